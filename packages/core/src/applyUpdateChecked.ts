import * as Y from 'yjs'
import { MailweaveError } from './MailweaveError.ts'

/**
 * Applies Yjs update bytes to `doc` only if they decode completely; corrupt or truncated
 * bytes throw a {@link MailweaveError} `CORRUPT_UPDATE` and leave the document untouched.
 */
export function applyUpdateChecked(doc: Y.Doc, update: Uint8Array, origin?: unknown): void {
  if (!(update instanceof Uint8Array)) throw new MailweaveError('CORRUPT_UPDATE', 'update must be bytes')
  try {
    Y.decodeUpdate(update)
  } catch (e) {
    throw new MailweaveError(
      'CORRUPT_UPDATE',
      `update bytes do not decode (${e instanceof Error ? e.message : String(e)}); nothing was applied`,
      { bytes: update.length },
    )
  }
  Y.applyUpdate(doc, update, origin)
}
