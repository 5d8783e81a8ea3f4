import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { AccountDoc } from '../src/AccountDoc.ts'

const sync = (a: Y.Doc, b: Y.Doc) => {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)))
}

describe('AccountDoc (the replicated mailbox list)', () => {
  it('a name created concurrently in two partitioned regions converges to one mailbox', () => {
    const [da, db] = [new Y.Doc(), new Y.Doc()]
    let t = 1_800_000_000_000
    const a = new AccountDoc(da, 'eu', 1, () => t)
    const b = new AccountDoc(db, 'us', 1, () => (t += 1000))
    const ea = a.create('Projects')
    const eb = b.create('Projects')
    expect(ea.id).toBe(eb.id) // the same mailbox document: mail appended on both sides meets there
    sync(da, db)
    const names = a.list().map((m) => m.name)
    expect(names.filter((n) => n === 'Projects')).toHaveLength(1)
    expect(b.list()).toEqual(a.list())
  })

  it('a deleted and re-created mailbox gets a new document and a greater UIDVALIDITY', () => {
    let t = 1_800_000_000_000
    const a = new AccountDoc(new Y.Doc(), 'eu', 1, () => t)
    const first = a.create('Work')
    a.delete('Work')
    expect(a.find('Work')).toBeUndefined()
    t -= 3_600_000 // even with a clock that went back
    const second = a.create('Work')
    expect(second.id).not.toBe(first.id)
    expect(second.uidValidity).toBeGreaterThan(first.uidValidity)
  })

  it('renames keep the mailbox, refuse clashes and INBOX changes with clear errors', () => {
    const a = new AccountDoc(new Y.Doc(), 'eu', 1)
    const m = a.create('Old')
    a.create('Taken')
    expect(a.rename('Old', 'New')).toMatchObject({ id: m.id, name: 'New', uidValidity: m.uidValidity })
    expect(() => a.rename('New', 'Taken')).toThrow(/already exists/)
    expect(() => a.delete('INBOX')).toThrow(/INBOX cannot be deleted/)
    expect(() => a.create('bad\u0000name')).toThrow(/invalid mailbox name/)
    expect(a.list()[0]!.name).toBe('INBOX')
  })

  it('account documents are not validated: entries with a numeric name, an id like ../../x or other malformed fields are skipped, and listing never fails', () => {
    const doc = new Y.Doc()
    const a = new AccountDoc(doc, 'eu', 1, () => 1_800_000_000_000)
    a.create('Work')
    // what a buggy or hostile writer (an old edge, a peer) may have put in the document
    doc
      .getArray('mailweave.account')
      .push([
        ['mb', 'a'.repeat(24), 42, 7, 1, 'x'],
        ['mb', '../../x', 'Evil', 7, 1, 'x'],
        ['mb', 'b'.repeat(24), 'NoValidity', 0, 1, 'x'],
        ['mb', 'c'.repeat(24), 'INBOX', 7, 1, 'x'],
        ['del', 7, 1, 'x'],
        ['sub', 12, 1, 1, 'x'],
        'garbage',
      ])
    expect(a.list().map((m) => m.name)).toEqual(['INBOX', 'Work'])
    expect(a.subscriptions()).toEqual([])
    expect(() => a.create('Other')).not.toThrow()
    expect(() => a.subscribe('\x01', true)).toThrow(/invalid mailbox name/)
  })

  it('the node and the browser list an account by the same rules (one implementation in core)', async () => {
    const { listMailboxes } = await import('../../browser/src/listMailboxes.ts')
    const doc = new Y.Doc()
    let t = 1_800_000_000_000
    const a = new AccountDoc(doc, 'eu', 0, () => (t += 1000))
    a.create('B')
    a.create('A')
    a.rename('A', 'C')
    a.delete('B')
    a.create('B')
    expect(listMailboxes(doc)).toEqual(a.list())
  })
})
