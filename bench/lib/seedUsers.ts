/**
 * Seeds the users document of a node's storage with `n` accounts `u0 … u{n-1}` in one
 * update, all with the password `benchpass`: creating them through `addUser` would pay
 * scrypt once per account (tens of ms each, hours for 100,000). The facts have the shape
 * UserDirectory writes (`['u', name, hash, salt, created, ms, replica]`).
 */
import { scryptSync } from 'node:crypto'
import * as Y from 'yjs'
import { USERS_DOC, type UpdateStore } from '@mailweave/core'

export const BENCH_PASSWORD = 'benchpass'

export async function seedUsers(updates: UpdateStore, n: number, name = (i: number) => `u${i}`): Promise<void> {
  const salt = Buffer.alloc(16, 7)
  const hash = scryptSync(BENCH_PASSWORD, salt, 32, { N: 16384, r: 8, p: 1 }).toString('base64')
  const doc = new Y.Doc()
  const log = doc.getArray<unknown>('mailweave.users')
  const created = Math.floor(Date.now() / 1000)
  // several updates of 10,000 facts each: one 100,000-fact update is a large single record
  for (let from = 0; from < n; from += 10_000) {
    const before = Y.encodeStateVector(doc)
    doc.transact(() => {
      const facts = []
      for (let i = from; i < Math.min(n, from + 10_000); i++)
        facts.push(['u', name(i), hash, salt.toString('base64'), created, created * 1000 + i, 'bench-seed'])
      log.push(facts)
    })
    await updates.append(USERS_DOC, Y.encodeStateAsUpdate(doc, before))
  }
  doc.destroy()
}
