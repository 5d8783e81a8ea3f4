import { describe, expect, it } from 'vitest'
import { StructureCache } from '../src/mime/StructureCache.ts'
import { message } from './serverHelpers.ts'

describe('StructureCache bounds', () => {
  it('keeps at most `capacity` structures, evicting the least recently used', async () => {
    const cache = new StructureCache(2)
    await cache.get('a', message('a'))
    await cache.get('b', message('b'))
    await cache.peek('a') // a use: b is now the least recently used
    await cache.get('c', message('c'))
    expect(cache.size).toBe(2)
    expect(cache.has('a')).toBe(true)
    expect(cache.has('b')).toBe(false)
    expect(cache.has('c')).toBe(true)
  })

  it('keeps at most `capacity` header envelopes and encoded envelopes, dropping the oldest', async () => {
    const cache = new StructureCache(2)
    for (const h of ['a', 'b', 'c']) {
      const env = await cache.envelope(h, message(h))
      expect(env.subject).toBe(h)
      cache.envelopeToken(h, env)
    }
    expect(cache.peekEnvelope('a')).toBeUndefined()
    expect(cache.peekEnvelopeToken('a')).toBeUndefined()
    for (const h of ['b', 'c']) {
      expect(cache.peekEnvelope(h)?.subject).toBe(h)
      expect(cache.peekEnvelopeToken(h)).toBeDefined()
    }
  })
})
