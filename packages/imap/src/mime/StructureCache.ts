import { parseMessage } from './parseMessage.ts'
import type { ParsedMessage } from './parseMessage.ts'

/**
 * Parsed message structures by content hash (SHA-256 of the raw bytes, so an entry can never
 * go stale), least recently used evicted beyond `capacity`. Shared by every session of a
 * server; concurrent requests for one hash share one parse.
 */
export class StructureCache {
  readonly #entries = new Map<string, Promise<ParsedMessage>>()

  constructor(readonly capacity = 2000) {}

  /** The structure of `raw`, whose content hash is `hash`. */
  get(hash: string, raw: Uint8Array): Promise<ParsedMessage> {
    const hit = this.#entries.get(hash)
    if (hit !== undefined) {
      this.#entries.delete(hash)
      this.#entries.set(hash, hit)
      return hit
    }
    const parsed = parseMessage(raw)
    this.#entries.set(hash, parsed)
    if (this.#entries.size > this.capacity) {
      const oldest = this.#entries.keys().next()
      if (!oldest.done) this.#entries.delete(oldest.value)
    }
    return parsed
  }

  /** Number of cached structures. */
  get size(): number {
    return this.#entries.size
  }
}
