import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ImapFlow } from 'imapflow'
import { ModelClient, waitFor } from '@mailweave/testkit'
import { ProcessCluster } from '@mailweave/testkit-cluster'
import { imapflowView } from '../scripts/lib/imapClients.ts'
import { swaksLmtp } from '../scripts/lib/swaksLmtp.ts'

const USER = 'dora'
const PASS = 'deliver-pass-1'
const RCPT = `${USER}@example.org`
const mail = (id: string) =>
  `From: sender@example.org\r\nTo: ${RCPT}\r\nSubject: ${id}\r\nDate: Fri, 04 Dec 2026 12:00:00 +0000\r\nMessage-ID: <${id}>\r\n\r\nbody of ${id}\r\n`

/** How many UIDs of a client's cache carry each Message-ID. */
function copies(c: ModelClient): Map<string, number> {
  const out = new Map<string, number>()
  for (const id of c.cache.values()) out.set(id, (out.get(id) ?? 0) + 1)
  return out
}

describe('one message, one copy: the same delivery to two partitioned regions (LMTP with swaks, imapflow clients)', () => {
  let cluster: ProcessCluster
  let flows: ImapFlow[]
  let lmtp: number[]
  beforeAll(async () => {
    cluster = await ProcessCluster.start({ nodes: ['N0', 'N1'], imap: true, node: () => ({ args: ['--lmtp', '127.0.0.1:0'] }) })
    lmtp = cluster.nodes.map((n) => n.lmtpPort)
    await cluster.addUser(USER, PASS)
    await cluster.linksAre('open')
    flows = cluster.nodes.map(
      (n) =>
        new ImapFlow({
          host: '127.0.0.1',
          port: n.imapPort,
          secure: false,
          auth: { user: USER, pass: PASS },
          logger: false,
          disableAutoIdle: true,
        }),
    )
    await Promise.all(flows.map((f) => f.connect()))
  }, 90_000)
  afterAll(async () => {
    await Promise.all((flows ?? []).map((f) => f.logout().catch(() => undefined)))
    await cluster?.stop()
  })

  it('every replica converges to one copy, the client that had the other sees one EXPUNGE, and what must not merge stays', async () => {
    const globalUids = new Map<number, string>()
    const clients = [0, 1].map((i) => new ModelClient(`imapflow@N${i}`, globalUids))
    const sync = async (i: number) => clients[i]!.sync(await imapflowView(flows[i]!))

    // connected: an MTA retry at N0 (the first 250 was lost) stays one message; the user's
    // own APPEND of the same bytes is a message of its own
    await swaksLmtp(lmtp[0]!, RCPT, mail('retry@e2e'))
    await swaksLmtp(lmtp[0]!, RCPT, mail('retry@e2e'))
    await flows[0]!.append('INBOX', mail('retry@e2e'))
    await waitFor(async () => (await imapflowView(flows[1]!)).messages.length === 2, 20_000, 'the connected messages at N1')
    for (const i of [0, 1]) await sync(i)
    for (const c of clients) expect(copies(c).get('retry@e2e')).toBe(2)

    // partition: the MTA delivers at N1, gets no answer in time, fails over to N0; the same
    // message also goes to a second envelope recipient of this mailbox (+detail, no such folder)
    cluster.cutAll()
    await cluster.linksAre('down')
    await swaksLmtp(lmtp[1]!, RCPT, mail('failover@e2e'))
    await swaksLmtp(lmtp[0]!, RCPT, mail('failover@e2e'))
    await swaksLmtp(lmtp[0]!, `${USER}+lists@example.org`, mail('failover@e2e'))
    for (const i of [0, 1]) await sync(i)
    expect(copies(clients[0]!).get('failover@e2e')).toBe(2) // N0: its copy + the other recipient's
    expect(copies(clients[1]!).get('failover@e2e')).toBe(1)
    const n0Copies = [...clients[0]!.cache].filter(([, id]) => id === 'failover@e2e').map(([uid]) => uid)

    cluster.healAll()
    await cluster.linksAre('open')
    await waitFor(
      async () => {
        for (const i of [0, 1]) await sync(i)
        return (
          clients.every((c) => c.cache.size === 4 && copies(c).get('failover@e2e') === 2) &&
          JSON.stringify([...clients[0]!.cache]) === JSON.stringify([...clients[1]!.cache])
        )
      },
      60_000,
      'both regions show one copy per delivery after the heal',
    )
    // N1's copy was delivered first and stays; N0's client saw exactly one of its two uids expunged
    const gone = n0Copies.filter((uid) => !clients[0]!.cache.has(uid))
    expect(gone).toHaveLength(1)
    expect(clients[0]!.gone.has(gone[0]!)).toBe(true)
    expect(copies(clients[0]!).get('retry@e2e')).toBe(2)
    // S1..S5 held for both clients throughout (ModelClient throws otherwise); a fresh session agrees
    const fresh = new ImapFlow({
      host: '127.0.0.1',
      port: cluster.nodes[0]!.imapPort,
      secure: false,
      auth: { user: USER, pass: PASS },
      logger: false,
      disableAutoIdle: true,
    })
    await fresh.connect()
    try {
      expect((await imapflowView(fresh)).messages.map((m) => m.guid).sort()).toEqual([
        'failover@e2e',
        'failover@e2e',
        'retry@e2e',
        'retry@e2e',
      ])
    } finally {
      await fresh.logout()
    }
  }, 180_000)
})
