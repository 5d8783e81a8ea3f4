import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { UserDirectory } from '../src/UserDirectory.ts'

const secret = new TextEncoder().encode('user-directory-secret')
/** Two replicas of the users document, the second receiving the first's updates. */
function pair() {
  const a = new Y.Doc()
  const b = new Y.Doc()
  a.on('update', (u: Uint8Array) => Y.applyUpdate(b, u, 'peer'))
  return { a: new UserDirectory(a, 'eu', secret), b: new UserDirectory(b, 'us', secret), bDoc: b }
}

describe('UserDirectory index', () => {
  it('sees accounts created, changed and removed at another replica as their facts arrive, latest fact winning', async () => {
    const { a, b } = pair()
    await a.setPassword('alice', 'first-pass')
    await a.setPassword('bob', 'bob-pass')
    expect(b.get('alice')).toMatchObject({ name: 'alice' })
    expect(b.list()).toEqual(['alice', 'bob'])
    await a.setPassword('alice', 'second-pass')
    expect(await b.verify('alice', 'second-pass')).toBe(true)
    expect(await b.verify('alice', 'first-pass')).toBe(false)
    a.remove('bob')
    expect(b.get('bob')).toBeUndefined()
    expect(b.list()).toEqual(['alice'])
    await b.setPassword('bob', 'back-again') // b's fact is later than the removal it saw
    expect(b.list()).toEqual(['alice', 'bob'])
  })

  it('indexes the facts already in the document when it is opened, and ignores malformed ones', async () => {
    const doc = new Y.Doc()
    const first = new UserDirectory(doc, 'eu', secret)
    await first.setPassword('carol', 'carol-pass')
    doc.getArray<unknown>('mailweave.users').push(['junk', 42, ['u']])
    const again = new UserDirectory(doc, 'eu', secret)
    expect(again.list()).toEqual(['carol'])
    expect(await again.verify('carol', 'carol-pass')).toBe(true)
    await again.setPassword('dave', 'dave-pass') // a malformed fact does not spoil the next fact's time
    expect(again.list()).toEqual(['carol', 'dave'])
  })
})
