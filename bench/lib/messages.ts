/** Deterministic, varied test messages (1-6 KB) shared by the IMAP benchmarks: the same bytes go to every server. */
export function benchMessage(i: number, user = 'bench'): Buffer {
  let x = (i + 1) * 2654435761
  const rnd = (n: number) => {
    x = (x ^ (x << 13)) >>> 0
    x = (x ^ (x >>> 17)) >>> 0
    x = (x ^ (x << 5)) >>> 0
    return x % n
  }
  const words = ['replica', 'mailbox', 'partition', 'heal', 'invoice', 'meeting', 'draft', 'weekly', 'report', 'lunch', 'deploy', 'review']
  const para = () => Array.from({ length: 12 + rnd(24) }, () => words[rnd(words.length)]).join(' ')
  const body = Array.from({ length: 3 + rnd(12) }, para).join('\r\n\r\n')
  const d = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toUTCString().replace('GMT', '+0000')
  return Buffer.from(
    [
      `From: Sender ${rnd(500)} <sender${rnd(500)}@example.org>`,
      `To: ${user}@example.org`,
      `Cc: team-${rnd(20)}@example.org`,
      `Subject: [bench] ${para().slice(0, 60)} #${i}`,
      `Date: ${d}`,
      `Message-ID: <${i}.imap-bench@example.org>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      '',
    ].join('\r\n'),
  )
}
