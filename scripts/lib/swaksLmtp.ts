/**
 * Delivery through a real MTA client: `swaks` (Debian package swaks) speaking LMTP to a
 * node, as Postfix's lmtp transport does. Shared by `pnpm tour`, `pnpm compare dovecot`
 * and the delivery e2e test.
 */
import { execFile } from 'node:child_process'

/**
 * Delivers `raw` to `rcpt` over LMTP at 127.0.0.1:`port` with swaks; resolves once the
 * server answered 250 for the recipient (the message is durable), rejects with swaks'
 * transcript otherwise, or saying how to install swaks when it is missing.
 */
export async function swaksLmtp(port: number, rcpt: string, raw: string, from = 'mta@example.org'): Promise<void> {
  await new Promise<void>((res, rej) => {
    const child = execFile(
      'swaks',
      [
        '--server',
        '127.0.0.1',
        '--port',
        String(port),
        '--protocol',
        'LMTP',
        '--helo',
        'mta.example.org',
        '--from',
        from,
        '--to',
        rcpt,
        '--data',
        '-',
        '--timeout',
        '30',
      ],
      { timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err === null) return res()
        if ((err as NodeJS.ErrnoException).code === 'ENOENT')
          return rej(new Error('swaks is not installed: apt-get install swaks (it delivers mail over LMTP as an MTA would)'))
        rej(new Error(`swaks LMTP delivery to ${rcpt} at port ${port} failed: ${err.message}\n${stdout}${stderr}`))
      },
    )
    child.stdin?.end(raw)
  })
}
