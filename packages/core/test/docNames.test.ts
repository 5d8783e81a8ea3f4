import { describe, expect, it } from 'vitest'
import {
  accountDocName,
  docOwner,
  isMailboxDocName,
  isValidUser,
  mailboxDocName,
  mailboxDocPrefix,
  parseDocName,
  USERS_DOC,
} from '../src/index.ts'

describe('document names', () => {
  it('round-trip: what the builders write, parseDocName reads back', () => {
    expect(parseDocName(accountDocName('alice'))).toEqual({ kind: 'account', user: 'alice' })
    expect(parseDocName(mailboxDocName('alice', 'm1.x_y-z'))).toEqual({ kind: 'mailbox', user: 'alice', mailboxId: 'm1.x_y-z' })
    expect(parseDocName(USERS_DOC)).toEqual({ kind: 'users' })
    expect(mailboxDocName('bob', 'INBOX').startsWith(mailboxDocPrefix('bob'))).toBe(true)
  })

  it('refuses other shapes and invalid users', () => {
    for (const bad of [
      '',
      'acct',
      'acct/',
      'acct/Alice',
      'acct/.alice',
      'acct/alice/x',
      'mbox/alice',
      'mbox/alice/',
      'mbox/alice/a/b',
      'mbox/alice/a b',
      'mbox/../x',
      'sys/other',
      'mbox//INBOX',
      `acct/${'a'.repeat(65)}`,
    ]) {
      expect(parseDocName(bad), bad).toBeUndefined()
      expect(docOwner(bad), bad).toBeUndefined()
    }
  })

  it('docOwner names the account of account and mailbox documents only', () => {
    expect(docOwner('acct/alice')).toBe('alice')
    expect(docOwner('mbox/a.b-c_d/INBOX')).toBe('a.b-c_d')
    expect(docOwner(USERS_DOC)).toBeUndefined()
    expect(isMailboxDocName('mbox/alice/INBOX')).toBe(true)
    expect(isMailboxDocName('acct/alice')).toBe(false)
  })

  it('user names: lowercase, 1-64 characters of [a-z0-9._-], starting with a letter or digit', () => {
    expect(['a', 'alice', 'a.b', '0x', 'a'.repeat(64)].every(isValidUser)).toBe(true)
    expect(['', 'Alice', '.a', '-a', 'a/b', 'a b', 'a'.repeat(65)].some(isValidUser)).toBe(false)
  })
})
