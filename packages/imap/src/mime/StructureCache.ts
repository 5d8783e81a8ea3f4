import { envelopeOf, headerFields, parseMessage } from './parseMessage.ts'
import type { ParsedMessage } from './parseMessage.ts'
import type { Envelope } from '../wire/BodyStructure.ts'
import { encodeEnvelope, preEncode } from '../wire/encode.ts'
import type { Token } from '../wire/encode.ts'
import type { EnvelopeStore } from '../EnvelopeStore.ts'

/** Offset just past the header block's blank line (or the end when there is none). */
function headerEnd(raw: Uint8Array): number {
  for (let i = 0; i + 1 < raw.length; i++) {
    if (raw[i] !== 10) continue
    if (raw[i + 1] === 10) return i + 2
    if (raw[i + 1] === 13 && raw[i + 2] === 10) return i + 3
  }
  return raw.length
}

/** Drops the oldest entry (first in insertion order: a hit that re-inserts makes this LRU) once `map` holds more than `capacity`. */
function evictBeyond(map: Map<string, unknown>, capacity: number): void {
  if (map.size <= capacity) return
  const oldest = map.keys().next()
  if (!oldest.done) map.delete(oldest.value)
}

/**
 * Parsed message structures by content hash (SHA-256 of the raw bytes, so an entry can never
 * go stale), least recently used evicted beyond `capacity`. Shared by every session of a
 * server; concurrent requests for one hash share one parse.
 */
export class StructureCache {
  readonly #entries = new Map<string, Promise<ParsedMessage>>()
  readonly #envelopes = new Map<string, Envelope>()
  readonly #encoded = new Map<string, Token>()

  #store: EnvelopeStore | undefined

  constructor(readonly capacity = 2000) {}

  /**
   * Fills the cache of encoded envelopes from `store` (the newest `capacity` entries) and
   * sends every envelope encoded from now on to it.
   */
  async attach(store: EnvelopeStore): Promise<number> {
    const entries = await store.load()
    for (const [hash, bytes] of entries.slice(-this.capacity)) {
      this.#encoded.delete(hash)
      this.#encoded.set(hash, { kind: 'raw', text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1') })
    }
    this.#store = store
    return Math.min(entries.length, this.capacity)
  }

  /** The encoded ENVELOPE of `hash` when it is cached (in memory or loaded from the store), or undefined. */
  peekEnvelopeToken(hash: string): Token | undefined {
    return this.#encoded.get(hash)
  }

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
    evictBeyond(this.#entries, this.capacity)
    return parsed
  }

  /** The cached envelope for `hash` (from a cached structure or an earlier header parse), or undefined. */
  peekEnvelope(hash: string): Envelope | undefined {
    return this.#envelopes.get(hash)
  }

  /**
   * The ENVELOPE of `raw` from its header block alone (no MIME tree): what a list of
   * envelopes needs, several times cheaper than a full parse.
   */
  async envelope(hash: string, raw: Uint8Array): Promise<Envelope> {
    const known = this.#envelopes.get(hash)
    if (known !== undefined) return known
    const full = this.#entries.get(hash)
    const env = full !== undefined ? (await full).envelope : envelopeOf(headerFields(raw.subarray(0, headerEnd(raw))))
    this.#envelopes.set(hash, env)
    evictBeyond(this.#envelopes, this.capacity)
    return env
  }

  /**
   * `envelope` (the ENVELOPE of the message whose hash is `hash`) as a token encoded once:
   * listing a mailbox again costs a lookup per message, not an encoding.
   */
  envelopeToken(hash: string, envelope: Envelope): Token {
    const known = this.#encoded.get(hash)
    if (known !== undefined) return known
    const token = preEncode(encodeEnvelope(envelope))
    this.#encoded.set(hash, token)
    if (this.#store !== undefined && token.kind === 'raw') this.#store.add([[hash, Buffer.from(token.text, 'latin1')]])
    evictBeyond(this.#encoded, this.capacity)
    return token
  }

  /** The cached structure for `hash`, or undefined (never parses). */
  peek(hash: string): Promise<ParsedMessage> | undefined {
    const hit = this.#entries.get(hash)
    if (hit !== undefined) {
      this.#entries.delete(hash)
      this.#entries.set(hash, hit)
    }
    return hit
  }

  /** Whether the structure for `hash` is cached (does not count as a use). */
  has(hash: string): boolean {
    return this.#entries.has(hash)
  }

  /** Number of cached structures. */
  get size(): number {
    return this.#entries.size
  }
}
