/**
 * Where an IMAP server keeps encoded ENVELOPEs across restarts, keyed by the message's
 * content hash (so an entry never goes stale): the listing cache Dovecot keeps in its
 * index files. Bytes in, bytes out; losing entries only costs a parse.
 */
export interface EnvelopeStore {
  /** Every stored `[hash, encoded ENVELOPE]`, oldest first (a later entry for a hash wins). */
  load(): Promise<Array<[string, Uint8Array]>>
  /** Records newly encoded envelopes. Best effort and never awaited by a command: an implementation may batch. */
  add(entries: Array<[string, Uint8Array]>): void
  /** Writes what `add` batched; called when the server closes. */
  flush(): Promise<void>
}

/** An in-memory {@link EnvelopeStore} (tests; a server without a data directory). */
export class MemoryEnvelopeStore implements EnvelopeStore {
  readonly #entries = new Map<string, Uint8Array>()

  async load(): Promise<Array<[string, Uint8Array]>> {
    return [...this.#entries].map(([h, b]) => [h, b.slice()])
  }

  add(entries: Array<[string, Uint8Array]>): void {
    for (const [h, b] of entries) {
      this.#entries.delete(h)
      this.#entries.set(h, b.slice())
    }
  }

  async flush(): Promise<void> {}

  /** Number of entries held. */
  get size(): number {
    return this.#entries.size
  }
}
