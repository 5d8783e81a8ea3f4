/**
 * `pnpm tour`: watch IMAP UIDs survive a partition. Starts three regions (data under
 * .data/tour, fresh each run), one imapflow client per region, appends while connected,
 * cuts the regions apart, appends everywhere (and an MTA delivers one message at two
 * regions: one copy stays), heals, resyncs every client and prints what
 * was renumbered silently and what was duplicated-on-seen for whom. Writes
 * .data/tour/report.html. Exits 1 with the reason when an invariant breaks.
 */
import { resolve } from 'node:path'
import { runTour } from './tour/runTour.ts'

const dataDir = resolve(import.meta.dirname, '..', process.env.MAILWEAVE_TOUR_DATA ?? '.data/tour')
const reportPath = resolve(dataDir, 'report.html')
console.log('mailweave UID tour: three regions, one IMAP client each, a partition and a heal\n')
try {
  await runTour({ dataDir })
  console.log(`\nreport: open file://${reportPath}`)
  process.exit(0)
} catch (e) {
  console.error(`\ntour FAILED: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`)
  console.error(`report (with what was seen so far): open file://${reportPath}`)
  process.exit(1)
}
