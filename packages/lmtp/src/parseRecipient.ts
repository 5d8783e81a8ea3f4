import type { Recipient } from './LmtpBackend.ts'

/**
 * Splits an envelope recipient (`user+detail@domain`, angle brackets optional) into user
 * and detail; undefined when it has no local part. The domain is not checked: the MTA
 * routed the message here, so every local domain is ours.
 */
export function parseRecipient(address: string): Recipient | undefined {
  const a = address.trim().replace(/^<(.*)>$/, '$1')
  const at = a.lastIndexOf('@')
  let local = at < 0 ? a : a.slice(0, at)
  // a quoted local part ("john doe"@example.org) is taken without its quotes
  if (local.length >= 2 && local.startsWith('"') && local.endsWith('"')) local = local.slice(1, -1).replace(/\\(.)/g, '$1')
  const plus = local.indexOf('+')
  const user = (plus < 0 ? local : local.slice(0, plus)).toLowerCase()
  if (user === '') return undefined
  const detail = plus < 0 ? undefined : local.slice(plus + 1)
  return { address: a, user, detail: detail === '' ? undefined : detail }
}
