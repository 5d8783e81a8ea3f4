// IMAP `date` and `date-time` (RFC 9051 section 9).

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const MONTH_INDEX = new Map(MONTHS.map((m, i) => [m.toLowerCase(), i]))

const DATE = /^([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})$/
const DATE_TIME = /^( [0-9]|[0-9]{1,2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})$/

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

// Date.UTC maps years 0-99 to 19xx, so set the full year explicitly.
function utc(year: number, month: number, day: number, h = 0, m = 0, s = 0): number {
  const d = new Date(0)
  d.setUTCFullYear(year, month, day)
  d.setUTCHours(h, m, s, 0)
  return d.getTime()
}

function validDay(year: number, month: number, day: number): boolean {
  return day >= 1 && day <= new Date(utc(year, month + 1, 0)).getUTCDate()
}

/**
 * Parses a SEARCH `date-text` like `1-Feb-1994` into `YYYY-MM-DD` (a calendar day, no time
 * zone, comparable as a string); `undefined` unless it names a real day.
 */
export function parseSearchDate(text: string): string | undefined {
  const m = DATE.exec(text)
  if (m === null) return undefined
  const day = Number(m[1])
  const month = MONTH_INDEX.get((m[2] ?? '').toLowerCase())
  const year = Number(m[3])
  if (month === undefined || !validDay(year, month, day)) return undefined
  return `${pad(year, 4)}-${pad(month + 1)}-${pad(day)}`
}

/**
 * Parses a `date-time` like `17-Jul-1996 02:44:25 -0700` (without the quotes) into the
 * instant it denotes; `undefined` for anything out of range.
 */
export function parseDateTime(text: string): Date | undefined {
  const m = DATE_TIME.exec(text)
  if (m === null) return undefined
  const day = Number((m[1] ?? '').trim())
  const month = MONTH_INDEX.get((m[2] ?? '').toLowerCase())
  const year = Number(m[3])
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6])]
  const zone = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]))
  if (month === undefined || !validDay(year, month, day)) return undefined
  if (hour > 23 || minute > 59 || second > 60 || Number(m[9]) > 59) return undefined
  return new Date(utc(year, month, day, hour, minute, Math.min(second, 59)) - zone * 60_000)
}

/** Formats an instant as an IMAP `date-time` in UTC, e.g. `05-Jul-1996 09:44:25 +0000` (no quotes). */
export function formatDateTime(date: Date): string {
  return (
    `${pad(date.getUTCDate())}-${MONTHS[date.getUTCMonth()]}-${pad(date.getUTCFullYear(), 4)} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  )
}
