import type { UpdateStore } from '@mailweave/core'

/**
 * What an update store offers when several processes of a region write it (PostgreSQL's
 * `PgUpdateStore`): a log with *positions*, where reading "after position p" is gap-free
 * (every record below a returned position is visible for good, whatever order writers
 * committed in), records carry their writer so a process reads only the others', and a
 * commit by anyone is signalled. Bytes in, bytes out. The file and memory stores do not
 * offer it (one process per store): {@link sharedLogOf} returns undefined for them.
 */
export interface SharedUpdateLog {
  /** The identity of this log (the region), drawn once: positions of another log mean nothing here. */
  logId(): Promise<string>
  /** The position now: every record below it is visible. */
  position(): Promise<number>
  /** The document's records in append order, and a position below which every record of it is among them. */
  loadAt(docName: string): Promise<{ records: Uint8Array[]; position: number }>
  /**
   * Records other writers wrote at or after `from` and below the returned position (of `docs`
   * only when given), each with its own position; `more` when committed records past the
   * returned position exist already (read again soon).
   */
  readSince(
    from: number,
    docs?: readonly string[],
  ): Promise<{ position: number; records: { docName: string; data: Uint8Array; at: number }[]; more: boolean }>
  /** Names of the documents with a record of any writer at or after `from`. */
  changedSince(from: number): Promise<string[]>
  /** Replaces the document's records below `below` by `snapshot`, atomically; later records stay. */
  compactBelow(docName: string, snapshot: Uint8Array, below: number): Promise<void>
  /** Calls `fn` after any writer committed (and when the signal may have been missed); returns the unsubscribe function. */
  onCommit(fn: () => void): () => void
}

/** The store's shared log when it offers one (every method present), else undefined. */
export function sharedLogOf(store: UpdateStore): SharedUpdateLog | undefined {
  const s = store as UpdateStore & Partial<SharedUpdateLog>
  const methods = ['logId', 'position', 'loadAt', 'readSince', 'changedSince', 'compactBelow', 'onCommit'] as const
  return methods.every((m) => typeof s[m] === 'function') ? (s as SharedUpdateLog) : undefined
}

/** A store that lists its document names a page at a time, in name order (PostgreSQL's). */
export interface PagedDocList {
  listPage(after: string | undefined, limit: number): Promise<string[]>
}

/** The store's paged listing when it offers one, else undefined (the caller lists all at once). */
export function pagedListOf(store: UpdateStore): PagedDocList | undefined {
  const s = store as UpdateStore & Partial<PagedDocList>
  return typeof s.listPage === 'function' ? (s as PagedDocList) : undefined
}
