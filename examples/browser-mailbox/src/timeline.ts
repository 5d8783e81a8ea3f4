/**
 * A timeline of UIDs as this tab observed them: every binding (uid → message, by which
 * region's node) at the moment it reached this tab, the tab's own connection periods, its
 * own appends, and fixups (a message that got a new UID). A partition shows as UIDs of
 * another region arriving late, below what this tab already had, and the heal as the
 * fixups that follow. Kept in localStorage per region tab and mailbox.
 */
import type { EdgeMailbox } from '@mailweave/browser'
import type { ViewChange } from '@mailweave/core'

export type TimelineEvent =
  | { t: number; k: 'bind'; uid: number; guid: string; by: string; late: boolean }
  | { t: number; k: 'gone'; uid: number; guid: string }
  | { t: number; k: 'append'; guid: string }
  | { t: number; k: 'conn'; state: string }

const MAX_EVENTS = 2000
const SCAN_LIMIT = 300

export class Timeline {
  events: TimelineEvent[] = []
  private readonly bound = new Set<number>()
  private maxUid = 0
  private saveTimer: ReturnType<typeof setTimeout> | undefined
  private lastConn = ''
  private readonly listeners = new Set<() => void>()

  constructor(private readonly key: string) {
    try {
      const saved = localStorage.getItem(key)
      if (saved !== null) this.events = JSON.parse(saved) as TimelineEvent[]
    } catch {
      this.events = []
    }
    for (const e of this.events) {
      if (e.k === 'bind') {
        this.bound.add(e.uid)
        this.maxUid = Math.max(this.maxUid, e.uid)
      } else if (e.k === 'conn') this.lastConn = e.state
    }
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  private push(e: TimelineEvent): void {
    this.events.push(e)
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS)
    if (this.saveTimer === undefined) {
      this.saveTimer = setTimeout(() => {
        this.saveTimer = undefined
        try {
          localStorage.setItem(this.key, JSON.stringify(this.events))
        } catch {
          // storage full: the timeline is a view, not data
        }
        for (const fn of this.listeners) fn()
      }, 100)
    }
  }

  /** Records the bindings of view entries (the highest few on a first scan of a large mailbox). */
  observe(mailbox: EdgeMailbox, change?: ViewChange): void {
    const now = Date.now()
    const view = mailbox.view()
    let uids: number[]
    if (change === undefined) {
      uids = []
      for (let seq = view.size; seq >= 1 && uids.length < SCAN_LIMIT; seq--) uids.push(view.atSeq(seq)!.uid)
    } else uids = [...change.added].sort((a, b) => b - a).slice(0, SCAN_LIMIT)
    const fresh: { uid: number; guid: string; by: string }[] = []
    for (const uid of uids) {
      if (this.bound.has(uid)) continue
      const entry = view.snapshot.getUid(uid)
      if (entry === undefined) continue
      const info = mailbox.message(entry.guid)
      // every binding of the message: its earlier UIDs explain a fixup
      for (const b of info?.bindings ?? []) {
        if (!this.bound.has(b.uid)) fresh.push({ uid: b.uid, guid: entry.guid, by: b.allocator })
        this.bound.add(b.uid)
      }
    }
    const before = this.maxUid
    for (const f of fresh.sort((a, b) => a.uid - b.uid)) {
      this.push({ t: now, k: 'bind', uid: f.uid, guid: f.guid, by: f.by, late: before > 0 && f.uid < before })
      this.maxUid = Math.max(this.maxUid, f.uid)
    }
    for (const uid of change?.removed ?? []) this.push({ t: now, k: 'gone', uid, guid: '' })
  }

  append(guid: string): void {
    this.push({ t: Date.now(), k: 'append', guid })
  }

  connection(state: string): void {
    if (state === this.lastConn) return
    this.lastConn = state
    this.push({ t: Date.now(), k: 'conn', state })
  }

  clear(): void {
    this.events = []
    this.bound.clear()
    this.maxUid = 0
    this.lastConn = ''
    localStorage.removeItem(this.key)
    for (const fn of this.listeners) fn()
  }
}

const SVG = 'http://www.w3.org/2000/svg'
const PALETTE = ['#2563eb', '#ea580c', '#16a34a', '#9333ea', '#db2777', '#0891b2']

function el<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  if (text !== undefined) e.textContent = text
  return e
}

/** Colour of a region (allocator) id, stable for the configured order. */
export function regionColor(regions: readonly string[], id: string): string {
  const i = regions.indexOf(id)
  return i < 0 ? '#64748b' : PALETTE[i % PALETTE.length]!
}

const clock = (t: number) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })

/** Colours of the periods this tab was not connected (the bands and their legend). */
const BAND = { offline: '#e2e8f0', connecting: '#fef9c3', disconnected: '#fee2e2' } as const

/** Draws `events` into `svg` (replacing its content). */
export function renderTimeline(svg: SVGSVGElement, events: readonly TimelineEvent[], regions: readonly string[], now = Date.now()): void {
  const width = Math.max(480, Math.round(svg.clientWidth || svg.parentElement?.clientWidth || 900))
  const height = 240
  const m = { l: 52, r: 16, t: 28, b: 28 }
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
  svg.setAttribute('width', String(width))
  svg.setAttribute('height', String(height))
  svg.replaceChildren()
  svg.append(el('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }))
  const defs = el('defs', {})
  const marker = el('marker', {
    id: 'arrow',
    viewBox: '0 0 10 10',
    refX: 9,
    refY: 5,
    markerWidth: 6,
    markerHeight: 6,
    orient: 'auto-start-reverse',
  })
  marker.append(el('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#dc2626' }))
  defs.append(marker)
  svg.append(defs)

  const binds = events.filter((e): e is Extract<TimelineEvent, { k: 'bind' }> => e.k === 'bind')
  const t0 = events.length > 0 ? events[0]!.t : now - 60_000
  const tLast = events.length > 0 ? events[events.length - 1]!.t : now
  // room on the right, so the latest events (a heal, say) are not squeezed against the edge
  const t1 = Math.max(now, tLast + (tLast - t0) * 0.15 + 1000, t0 + 10_000)
  const step = Math.max(1, Math.ceil(Math.max(3, ...binds.map((b) => b.uid)) / 4))
  const maxUid = step * 4
  const x = (t: number) => m.l + ((t - t0) / (t1 - t0)) * (width - m.l - m.r)
  const y = (uid: number) => height - m.b - (uid / (maxUid * 1.04)) * (height - m.t - m.b)

  // connection periods of this tab: shaded where it was not connected
  const conns = events.filter((e): e is Extract<TimelineEvent, { k: 'conn' }> => e.k === 'conn')
  conns.forEach((c, i) => {
    if (c.state === 'connected') return
    const end = conns[i + 1]?.t ?? t1
    const band = el('rect', {
      x: x(c.t),
      y: m.t,
      width: Math.max(1, x(end) - x(c.t)),
      height: height - m.t - m.b,
      fill: BAND[c.state === 'offline' || c.state === 'connecting' ? c.state : 'disconnected'],
      opacity: 0.8,
    })
    band.append(el('title', {}, `${c.state} ${clock(c.t)}–${clock(end)}`))
    svg.append(band)
    if (x(end) - x(c.t) > 46) svg.append(el('text', { x: x(c.t) + 4, y: m.t + 12, 'font-size': 10, fill: '#475569' }, c.state))
  })

  // axes
  svg.append(el('line', { x1: m.l, y1: height - m.b, x2: width - m.r, y2: height - m.b, stroke: '#94a3b8' }))
  svg.append(el('line', { x1: m.l, y1: m.t, x2: m.l, y2: height - m.b, stroke: '#94a3b8' }))
  for (let i = 0; i <= 4; i++) {
    const uid = step * i
    svg.append(el('line', { x1: m.l - 3, y1: y(uid), x2: width - m.r, y2: y(uid), stroke: '#f1f5f9' }))
    svg.append(el('text', { x: m.l - 6, y: y(uid) + 3, 'font-size': 10, fill: '#64748b', 'text-anchor': 'end' }, String(uid)))
    const t = t0 + ((t1 - t0) * i) / 4
    svg.append(
      el(
        'text',
        { x: x(t), y: height - 8, 'font-size': 10, fill: '#64748b', 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' },
        clock(t),
      ),
    )
  }
  svg.append(el('text', { x: 8, y: 16, 'font-size': 11, fill: '#334155', 'font-weight': 600 }, 'UID'))

  // per region: the highest UID it had bound, as this tab learnt it (a step line)
  const byRegion = new Map<string, { t: number; uid: number }[]>()
  for (const b of binds) {
    const pts = byRegion.get(b.by) ?? []
    const last = pts[pts.length - 1]?.uid ?? 0
    if (b.uid > last) pts.push({ t: b.t, uid: b.uid })
    byRegion.set(b.by, pts)
  }
  for (const [region, pts] of byRegion) {
    let d = ''
    pts.forEach((p, i) => {
      d += i === 0 ? `M${x(p.t)},${y(p.uid)}` : `H${x(p.t)}V${y(p.uid)}`
    })
    if (pts.length > 0) d += `H${x(t1)}`
    svg.append(el('path', { d, fill: 'none', stroke: regionColor(regions, region), 'stroke-width': 1.5, opacity: 0.45 }))
  }

  // fixups: a message's earlier UID to its later one
  const firstByGuid = new Map<string, Extract<TimelineEvent, { k: 'bind' }>>()
  for (const b of binds) {
    const first = firstByGuid.get(b.guid)
    if (first === undefined) {
      firstByGuid.set(b.guid, b)
      continue
    }
    svg.append(
      el('path', {
        d: `M${x(first.t)},${y(first.uid)} L${x(b.t)},${y(b.uid)}`,
        stroke: '#dc2626',
        'stroke-width': 1.2,
        'stroke-dasharray': '4 3',
        fill: 'none',
        'marker-end': 'url(#arrow)',
      }),
    )
  }

  for (const b of binds) {
    const c = el('circle', {
      cx: x(b.t),
      cy: y(b.uid),
      r: b.late ? 5 : 3.5,
      fill: regionColor(regions, b.by),
      stroke: b.late ? '#dc2626' : '#ffffff',
      'stroke-width': b.late ? 2 : 1,
    })
    c.append(
      el(
        'title',
        {},
        `UID ${b.uid} by ${b.by} at ${clock(b.t)}${b.late ? ' — arrived late (below UIDs this tab already had): a partition healed' : ''}`,
      ),
    )
    svg.append(c)
  }
  for (const e of events) {
    if (e.k === 'gone')
      svg.append(el('path', { d: `M${x(e.t) - 3},${y(e.uid) - 3} l6,6 m0,-6 l-6,6`, stroke: '#475569', 'stroke-width': 1.2 }))
    if (e.k === 'append') svg.append(el('path', { d: `M${x(e.t)},${height - m.b} l-4,7 h8 z`, fill: '#0f172a' }))
  }

  // legend: wraps to a second row on a narrow timeline instead of running off its right edge
  let lx = m.l + 40
  let ly = 12
  const legend = (color: string, label: string, shape: 'dot' | 'ring' | 'dash' | 'band' | 'tri') => {
    const w = 26 + label.length * 6
    if (lx + w > width && lx > m.l + 40) {
      lx = m.l + 40
      ly += 15
    }
    if (shape === 'dot') svg.append(el('circle', { cx: lx, cy: ly, r: 4, fill: color }))
    if (shape === 'ring') svg.append(el('circle', { cx: lx, cy: ly, r: 4.5, fill: '#cbd5e1', stroke: '#dc2626', 'stroke-width': 2 }))
    if (shape === 'dash') svg.append(el('path', { d: `M${lx - 7},${ly} h14`, stroke: '#dc2626', 'stroke-dasharray': '4 3' }))
    if (shape === 'band') svg.append(el('rect', { x: lx - 6, y: ly - 6, width: 12, height: 12, fill: color, stroke: '#cbd5e1' }))
    if (shape === 'tri') svg.append(el('path', { d: `M${lx},${ly - 5} l-4,8 h8 z`, fill: color }))
    svg.append(el('text', { x: lx + 8, y: ly + 4, 'font-size': 10.5, fill: '#334155' }, label))
    lx += w
  }
  const seen = new Set(binds.map((b) => b.by))
  for (const r of [...regions, ...[...seen].filter((s) => !regions.includes(s))]) legend(regionColor(regions, r), r, 'dot')
  legend('', 'late arrival', 'ring')
  legend('', 'fixup', 'dash')
  legend('#0f172a', 'appended here', 'tri')
  // one entry per kind of band the chart draws, in the chart's colours
  for (const [state, colour] of Object.entries(BAND)) legend(colour, state, 'band')
  if (events.length === 0)
    svg.append(
      el(
        'text',
        { x: width / 2, y: height / 2, 'font-size': 13, fill: '#94a3b8', 'text-anchor': 'middle' },
        'UIDs will appear here as this tab learns them',
      ),
    )
}
