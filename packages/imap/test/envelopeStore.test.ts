import { describe, expect, it } from 'vitest'
import { MemoryEnvelopeStore } from '../src/index.ts'
import type { EnvelopeStore } from '../src/index.ts'
import { RawClient, message, startServer } from './serverHelpers.ts'

/** Lists INBOX on `port`; returns the FETCH lines and the tagged response. */
async function listing(port: number): Promise<{ lines: string[]; tagged: string; warnings: string[] }> {
  const c = await RawClient.connect(port)
  await c.login()
  await c.command('SELECT INBOX')
  const r = await c.command('FETCH 1:* (ENVELOPE)')
  c.write('Z LOGOUT\r\n')
  return {
    lines: r.filter((l) => l.startsWith('* ') && l.includes(' FETCH (')),
    tagged: r.at(-1)!,
    warnings: r.filter((l) => l.startsWith('* NO ')),
  }
}

describe('encoded envelopes kept across restarts (EnvelopeStore)', () => {
  it('a new server lists from the stored envelopes without reading a body', async () => {
    const store = new MemoryEnvelopeStore()
    const first = await startServer({ envelopeStore: store })
    const c = await RawClient.connect(first.port)
    await c.login()
    const raw = message('Kept across restarts')
    await c.append(raw)
    const before = await listing(first.port)
    expect(before.lines.join('\n')).toContain('Kept across restarts')
    await first.close()
    expect(store.size).toBe(1)

    // the body is gone: only the stored envelope can answer now
    for await (const k of first.backend.blobs.keys()) await first.backend.blobs.delete(k)
    const bare = await startServer({ backend: first.backend })
    const bareListing = await listing(bare.port)
    expect(bareListing.lines).toEqual([])
    expect(bareListing.warnings).toEqual([expect.stringMatching(/^\* NO \[UNAVAILABLE\] UID 1 /)])
    await bare.close()

    const second = await startServer({ backend: first.backend, envelopeStore: store })
    const after = await listing(second.port)
    expect(after.tagged).toMatch(/ OK /)
    expect(after.lines).toEqual(before.lines)
    await second.close()
  })

  it('a store that fails to load leaves the server working, and says so', async () => {
    const broken: EnvelopeStore = { load: () => Promise.reject(new Error('disk gone')), add: () => undefined, flush: async () => undefined }
    const s = await startServer({ envelopeStore: broken })
    expect(s.errors.map((e) => e.context).join()).toMatch(/loading cached envelopes/)
    await s.close()
  })
})
