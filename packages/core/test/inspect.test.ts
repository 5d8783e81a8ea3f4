import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { openMailbox, type Mailbox } from '../src/index.ts'
import { rawMessage } from './helpers/SimCluster.ts'

function sync(...docs: Y.Doc[]): void {
  for (const a of docs) for (const b of docs) if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))
}

const stateOf = (mb: Mailbox, uid: number) => mb.inspect().bindings.find((b) => b.uid === uid)?.state

describe('inspect: what became of each binding', () => {
  it('names valid, stranded, renumbered and expunged bindings instead of calling every one valid', () => {
    const A = openMailbox(new Y.Doc(), { replica: 'A', slot: 0, stride: 2, uidValidity: 7 })
    const B = openMailbox(new Y.Doc(), { replica: 'B', slot: 1, stride: 2, uidValidity: 7 })
    sync(A.doc, B.doc)
    const a1 = A.append(rawMessage('a1'))
    A.expose()
    sync(A.doc, B.doc)
    // partition: A shows a2 at 4, B appends b1 at 1 and shows it, then heal
    A.append(rawMessage('a2'))
    A.expose()
    const b1 = B.append(rawMessage('b1'))
    B.expose()
    sync(A.doc, B.doc)
    const b1Uid = B.inspect().bindings.find((b) => b.guid === b1)!.uid
    expect(stateOf(A, b1Uid)).toBe('stranded') // below W[A], never shown at A: waits for a new uid
    A.fixup()
    expect(stateOf(A, b1Uid)).toBe('renumbered')
    const newUid = A.view().messages.find((m) => m.guid === b1)!.uid
    expect(stateOf(A, newUid)).toBe('valid')
    const a1Uid = A.view().messages.find((m) => m.guid === a1)!.uid
    expect(stateOf(A, a1Uid)).toBe('valid')
    A.expunge([a1]) // MOVE is a copy and this expunge: the binding stays, its message is gone
    const a1Binding = A.inspect().bindings.find((b) => b.uid === a1Uid)!
    expect(a1Binding.state).toBe('expunged')
    expect(a1Binding.valid).toBe(true) // rule 2 still holds for the uid; that is why `valid` alone misled
  })
})
