import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runTour } from '../scripts/tour/runTour.ts'

describe('pnpm tour', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailweave-tour-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it('ends with every message at every client, duplicates only where the old UID had been shown, and writes the report', async () => {
    const t0 = performance.now()
    const s = await runTour({ dataDir: join(dir, 'tour'), quiet: true })
    const ids = new Set(s.appends.map((a) => a.id))
    expect(s.failure).toBeUndefined()
    expect(s.total).toBe(12)
    expect(s.everyClientHoldsAll).toBe(true)
    expect(s.fixupsWhileConnected).toBe(0)
    for (const c of s.clients) {
      expect(new Set(c.messages.map((m) => m.id))).toEqual(ids)
      // the MTA failover: one copy of mta-1 at every client
      expect(c.messages.filter((m) => m.id === s.failover!.id)).toHaveLength(1)
      for (const d of c.duplicates) {
        if (d.id === s.failover!.id) continue
        // a re-download only of a UID this client had been shown, and the node history agrees
        expect(c.everShown).toContain(d.oldUid)
        expect(s.fates.find((f) => f.id === d.id)).toMatchObject({ kind: 'duplicate', firstUid: d.oldUid, finalUid: d.newUid })
        expect(s.fates.find((f) => f.id === d.id)!.seenBy).toContain(c.region)
      }
    }
    // the story: the partition strands messages on both kinds of fixup
    const dupFates = s.fates.filter((f) => f.kind === 'duplicate')
    const silentFates = s.fates.filter((f) => f.kind === 'silent')
    expect(dupFates.length).toBeGreaterThan(0)
    expect(silentFates.length).toBeGreaterThan(0)
    for (const f of silentFates) {
      expect(f.seenBy).toEqual([])
      for (const c of s.clients) expect(c.duplicates.map((d) => d.id)).not.toContain(f.id)
    }
    // one copy per delivery: us delivered first and keeps its copy; eu's client, which had eu's copy,
    // saw it expunged and got us's copy instead
    expect(s.failover).toMatchObject({ regions: ['us', 'eu'], kept: 'us', dropped: { region: 'eu', seenBy: ['eu'] } })
    const euMerge = s.clients.find((c) => c.region === 'eu')!.duplicates.filter((d) => d.id === s.failover!.id)
    expect(euMerge.map((d) => d.oldUid)).toEqual([s.failover!.dropped!.uid])
    // every fate of kind duplicate reached exactly the clients that had seen its old UID
    for (const f of dupFates)
      expect(
        s.clients
          .filter((c) => c.duplicates.some((d) => d.id === f.id && d.oldUid === f.firstUid))
          .map((c) => c.region)
          .sort(),
      ).toEqual(f.seenBy)
    expect(s.lines.at(-1)).toBe(`every client holds all ${s.total} messages: yes`)
    expect(existsSync(s.reportPath)).toBe(true)
    const html = readFileSync(s.reportPath, 'utf8')
    expect(html).toContain('<svg')
    expect(html).toContain('duplicate-on-seen')
    expect(html).toContain('one copy kept')
    expect(html).not.toMatch(/<(script|link|img)\b/) // self-contained
    console.log(
      `tour: ${s.total} messages, ${dupFates.length} duplicated-on-seen, ${silentFates.length} silent, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    )
  }, 60_000)
})
