/**
 * Durable per-document update log: bytes in, bytes out. Implementations keep records of a
 * document in append order and never return a record that was not appended.
 */
export interface UpdateStore {
  /** Appends an update record for docName; resolves when durable (fsynced). */
  append(docName: string, update: Uint8Array): Promise<void>
  /** All records of docName in append order (after the last compaction snapshot). */
  load(docName: string): Promise<Uint8Array[]>
  /** Replaces all records of docName by one snapshot record, atomically (crash-safe). */
  compact(docName: string, snapshot: Uint8Array): Promise<void>
  /** Document names present. */
  list(): Promise<string[]>
  close(): Promise<void>
}
