import { stamp } from './TourLog.ts'
import { labelOf, type MessageFate, type TourRecord, type TourStep } from './TourRecord.ts'

const COLORS = ['#2563eb', '#0d9488', '#9333ea', '#ea580c', '#db2777']
const DUP = '#dc2626'
const SILENT = '#64748b'
/** A white outline behind text drawn over lines. */
const HALO = 'paint-order="stroke" stroke="#fff" stroke-width="3.5" stroke-linejoin="round"'

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/**
 * The tour as one self-contained HTML page (no external resources): the UID picture as
 * inline SVG, then the step timeline, every message's fate and every client's view.
 * A failed tour renders the same page with the failure at the top.
 */
export function renderReport(rec: TourRecord): string {
  const color = (region: string) => COLORS[Math.max(0, rec.regions.indexOf(region)) % COLORS.length]!
  const fateBadge = (f: MessageFate) =>
    f.kind === 'kept'
      ? '<span class="badge kept">kept its UID</span>'
      : f.kind === 'silent'
        ? '<span class="badge silent">renumbered silently</span>'
        : `<span class="badge dup">duplicate-on-seen</span> <span class="muted">for ${esc(f.seenBy.join(', '))}</span>`
  const silent = rec.fates.filter((f) => f.kind === 'silent').length
  const dups = rec.fates.filter((f) => f.kind === 'duplicate').length
  const verdict =
    rec.failure !== undefined
      ? `<div class="verdict bad"><b>The tour failed.</b><pre>${esc(rec.failure)}</pre></div>`
      : `<div class="verdict good"><b>every client holds all ${rec.total} messages: yes</b> · ${rec.fates.length - silent - dups} kept, ${silent} renumbered silently, ${dups} duplicated-on-seen${rec.failover?.kept !== undefined ? ` · ${esc(rec.failover.label)} delivered at ${esc(rec.failover.regions.join(' and '))}, one copy kept` : ''} · S1..S5 held at every sync · ${(rec.elapsedMs / 1000).toFixed(1)} s</div>`
  const appendedVia = (f: MessageFate) => {
    const via = rec.appends.find((a) => a.id === f.id)?.via
    return via === 'delivery'
      ? '(delivered, shown to nobody)'
      : via === 'failover'
        ? `(LMTP at ${rec.failover?.regions.join(' and ') ?? '?'}: an MTA failover; ${rec.failover?.dropped?.region ?? '?'}'s copy${rec.failover?.dropped !== undefined ? ` at UID ${rec.failover.dropped.uid}` : ''} superseded, one copy kept)`
        : '(IMAP APPEND)'
  }
  const snapsOf = (region: string) => rec.snapshots.filter((s) => s.region === region)
  const partitionViews = rec.regions
    .map((r) =>
      snapsOf(r)
        .filter((s) => s.step > rec.cutStep && s.step < rec.healStep)
        .at(-1),
    )
    .filter((s) => s !== undefined)
  const viewCells = (ms: { uid: number; id: string }[], region?: string) =>
    ms
      .map((m) => {
        const f = rec.fates.find((x) => x.id === m.id)
        const cls = region !== undefined && f?.kind === 'duplicate' && f.finalUid === m.uid && f.seenBy.includes(region) ? ' dupchip' : ''
        const origin = rec.appends.find((a) => a.id === m.id)?.region ?? ''
        return `<span class="chip${cls}" style="border-color:${color(origin)}"><b>${m.uid}</b> ${esc(labelOf(m.id))}</span>`
      })
      .join('')

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mailweave UID tour</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --ink:#0f172a; --muted:#64748b; --line:#e2e8f0; --bg:#f8fafc; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
  main { max-width: 1240px; margin: 0 auto; padding: 28px 28px 60px; }
  h1 { font-size: 24px; margin: 0 0 4px; }
  h2 { font-size: 17px; margin: 30px 0 10px; }
  p.lead { color: var(--muted); margin: 0 0 18px; max-width: 900px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 16px 18px; box-shadow: 0 1px 2px rgba(15,23,42,.04); }
  .verdict { border-radius: 10px; padding: 12px 16px; margin: 16px 0; }
  .verdict.good { background: #ecfdf5; border: 1px solid #a7f3d0; color: #065f46; }
  .verdict.bad { background: #fef2f2; border: 1px solid #fecaca; color: #991b1b; }
  .verdict pre { white-space: pre-wrap; margin: 8px 0 0; font-size: 12px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
  th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); font-weight: 600; }
  td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
  .mono { font: 12px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
  .notes { margin-top: 2px; }
  .notes div { white-space: pre-wrap; color: #334155; }
  .muted { color: var(--muted); }
  .badge { display: inline-block; border-radius: 999px; padding: 1px 9px; font-size: 12px; font-weight: 600; }
  .badge.kept { background: #f1f5f9; color: #334155; }
  .badge.silent { background: #e2e8f0; color: #334155; border: 1px dashed #64748b; }
  .badge.dup { background: #fee2e2; color: #b91c1c; }
  .phase { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 6px; }
  .chip { display: inline-block; border: 2px solid; border-radius: 6px; padding: 0 6px; margin: 2px 4px 2px 0; font-size: 12px; background: #fff; }
  .chip.dupchip { background: #fee2e2; }
  .region { font-weight: 700; }
  svg text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  .grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; }
  @media (max-width: 900px) { .grid2 { grid-template-columns: 1fr; } }
</style></head>
<body><main>
<h1>mailweave: IMAP UIDs through a partition</h1>
<p class="lead">Three regions (${rec.regions.map((r) => `<b style="color:${color(r)}">${esc(r)}</b>`).join(', ')}) serve one mailbox and replicate it as a CRDT. One IMAP client per region appends and resyncs. During the partition each region allocates UIDs from its own residue class; after the heal, the messages whose UIDs fell below what some client had already been told are renumbered: silently when nobody had seen them, as a duplicate-on-seen (EXPUNGE of the old UID, the same message again at a new one) when a client had.</p>
${verdict}
<div class="card">${svg(rec, color)}</div>

<h2>Timeline</h2>
<div class="card"><table>
<tr><th class="num">step</th><th>time</th><th>what happened</th></tr>
${rec.steps.map((s) => `<tr><td class="num">${s.n}</td><td class="mono">${esc(stamp(s.at))}</td><td><span class="phase" style="background:${phaseColor(s.phase)}"></span>${esc(s.title)}${s.notes.length > 0 ? `<div class="notes mono">${s.notes.map((n) => `<div>${esc(n)}</div>`).join('')}</div>` : ''}</td></tr>`).join('\n')}
</table></div>

<h2>Every message</h2>
<div class="card"><table>
<tr><th>message</th><th>subject</th><th>appended at</th><th class="num">first UID</th><th class="num">final UID</th><th>what happened</th></tr>
${rec.fates.map((f) => `<tr><td><span class="chip" style="border-color:${color(f.origin)}">${esc(f.label)}</span></td><td>${esc(f.subject)}</td><td><span class="region" style="color:${color(f.origin)}">${esc(f.origin)}</span> <span class="muted">${esc(appendedVia(f))}</span></td><td class="num">${f.firstUid}</td><td class="num">${f.finalUid}</td><td>${fateBadge(f)}${f.kind !== 'kept' ? ` <span class="muted">· new UID from ${esc(f.allocator)}</span>` : ''}</td></tr>`).join('\n')}
</table></div>

<div class="grid2">
<div><h2>What each client saw during the partition</h2>
<div class="card"><table><tr><th>client</th><th class="num">UIDNEXT</th><th>UIDs</th></tr>
${partitionViews.map((s) => `<tr><td class="region" style="color:${color(s.region)}">${esc(s.region)}</td><td class="num">${s.uidNext}</td><td>${viewCells(s.messages)}</td></tr>`).join('\n')}
</table></div></div>
<div><h2>After the heal and one resync</h2>
<div class="card"><table><tr><th>client</th><th class="num">UIDNEXT</th><th>re-downloads (old UID → new UID)</th></tr>
${rec.clients.map((c) => `<tr><td class="region" style="color:${color(c.region)}">${esc(c.region)}</td><td class="num">${c.uidNext}</td><td>${c.duplicates.length === 0 ? '<span class="muted">none: new mail only above its UIDNEXT</span>' : c.duplicates.map((d) => `<span class="chip dupchip" style="border-color:${DUP}">${esc(d.label)} ${d.oldUid} → ${d.newUid}</span>`).join('')}</td></tr>`).join('\n')}
</table></div></div>
</div>
<h2>Final views (identical at every client)</h2>
<div class="card"><table><tr><th>client</th><th class="num">UIDNEXT</th><th>UIDs</th></tr>
${rec.clients.map((c) => `<tr><td class="region" style="color:${color(c.region)}">${esc(c.region)}</td><td class="num">${c.uidNext}</td><td>${viewCells(c.messages, c.region)}</td></tr>`).join('\n')}
</table></div>
</main></body></html>
`
}

const phaseColor = (p: TourStep['phase']) =>
  p === 'setup' ? '#94a3b8' : p === 'connected' ? '#16a34a' : p === 'partition' ? '#f97316' : '#2563eb'

interface Point {
  step: number
  uid: number
}

/** The picture: one lane per region (its client's UIDs), x = step, y = UID. */
function svg(rec: TourRecord, color: (r: string) => string): string {
  const cols = rec.steps.filter((s) => s.phase !== 'setup')
  const maxUid = Math.max(
    4,
    ...rec.snapshots.flatMap((s) => [s.uidNext, ...s.messages.map((m) => m.uid)]),
    ...rec.appends.map((a) => a.uid ?? 0),
  )
  const W = 1180
  const left = 150
  const right = 150
  const top = 104
  const colW = (W - left - right) / Math.max(1, cols.length)
  const px = Math.max(7, Math.min(14, 300 / maxUid))
  const laneInner = maxUid * px
  const lanePad = 18
  const laneH = laneInner + lanePad * 2
  const gap = 16
  const H = top + rec.regions.length * (laneH + gap) + 46
  const colIndex = new Map(cols.map((s, i) => [s.n, i]))
  const x = (step: number) => left + ((colIndex.get(step) ?? 0) + 0.5) * colW
  const out: string[] = []
  const defs = `<defs>
    <marker id="ah-dup" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${DUP}"/></marker>
    <marker id="ah-silent" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${SILENT}"/></marker>
    <pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#fff7ed"/><line x1="0" y1="0" x2="0" y2="8" stroke="#fed7aa" stroke-width="3"/></pattern>
  </defs>`
  out.push(defs)

  // partition band behind everything
  if (rec.cutStep > 0 && rec.healStep > 0 && colIndex.has(rec.cutStep) && colIndex.has(rec.healStep)) {
    const x0 = x(rec.cutStep)
    const x1 = x(rec.healStep)
    out.push(`<rect x="${x0}" y="${top - 24}" width="${x1 - x0}" height="${H - top - 20}" fill="url(#hatch)" opacity="0.9"/>`)
    out.push(`<line x1="${x0}" y1="${top - 24}" x2="${x0}" y2="${H - 44}" stroke="#f97316" stroke-width="2" stroke-dasharray="5 4"/>`)
    out.push(`<line x1="${x1}" y1="${top - 24}" x2="${x1}" y2="${H - 44}" stroke="#2563eb" stroke-width="2" stroke-dasharray="5 4"/>`)
    out.push(
      `<text x="${(x0 + x1) / 2}" y="${top - 9}" text-anchor="middle" font-size="11.5" font-weight="700" fill="#c2410c" letter-spacing="0.12em">PARTITION</text>`,
    )
  }
  // column headers
  for (const s of cols) {
    const cx = x(s.n)
    out.push(
      `<circle cx="${cx}" cy="22" r="11" fill="${phaseColor(s.phase)}"/><text x="${cx}" y="26" text-anchor="middle" font-size="11" font-weight="700" fill="#fff">${s.n}</text>`,
    )
    out.push(`<text x="${cx}" y="50" text-anchor="middle" font-size="11.5" font-weight="600" fill="#0f172a">${esc(s.short)}</text>`)
    out.push(`<text x="${cx}" y="64" text-anchor="middle" font-size="10" fill="#64748b">${esc(stamp(s.at).trim())}</text>`)
  }

  rec.regions.forEach((region, li) => {
    const laneTop = top + li * (laneH + gap)
    const y = (uid: number) => laneTop + lanePad + (maxUid - uid) * px
    out.push(
      `<rect x="${left - 6}" y="${laneTop}" width="${W - left - right + 12}" height="${laneH}" rx="8" fill="${color(region)}" fill-opacity="0.045" stroke="${color(region)}" stroke-opacity="0.25"/>`,
    )
    out.push(`<text x="14" y="${laneTop + 22}" font-size="15" font-weight="700" fill="${color(region)}">${esc(region)}</text>`)
    out.push(`<text x="14" y="${laneTop + 39}" font-size="10.5" fill="#64748b">its IMAP client</text>`)
    out.push(`<text x="14" y="${laneTop + 53}" font-size="10.5" fill="#64748b">slot ${li}: allocates</text>`)
    out.push(`<text x="14" y="${laneTop + 67}" font-size="10.5" fill="#64748b">UIDs ≡ ${li} (mod ${rec.regions.length})</text>`)
    const tickStep = maxUid > 40 ? 10 : 5
    for (let u = tickStep; u <= maxUid; u += tickStep) {
      out.push(
        `<line x1="${left - 6}" x2="${W - right + 6}" y1="${y(u)}" y2="${y(u)}" stroke="#cbd5e1" stroke-width="0.8" stroke-dasharray="2 4"/>`,
      )
      out.push(`<text x="${left - 12}" y="${y(u) + 3.5}" text-anchor="end" font-size="10" fill="#94a3b8">${u}</text>`)
    }
    out.push(`<text x="${left - 12}" y="${laneTop + laneH - 6}" text-anchor="end" font-size="9.5" fill="#94a3b8">UID</text>`)

    const snaps = rec.snapshots.filter((s) => s.region === region && colIndex.has(s.step))
    const mine = rec.appends.filter((a) => a.region === region && a.uid !== undefined && colIndex.has(a.step))
    // lifelines: where this client was told each message over time (APPENDUID counts)
    const life = new Map<string, Point[]>()
    const add = (id: string, p: Point) => {
      const l = life.get(id) ?? []
      const last = l.at(-1)
      if (last === undefined || last.step !== p.step || last.uid !== p.uid) l.push(p)
      life.set(id, l)
    }
    const events = [
      ...mine.filter((a) => a.via === 'imap').map((a) => ({ step: a.step, order: 0, fn: () => add(a.id, { step: a.step, uid: a.uid! }) })),
      ...snaps.map((s) => ({ step: s.step, order: 1, fn: () => s.messages.forEach((m) => add(m.id, { step: s.step, uid: m.uid })) })),
    ].sort((a, b) => a.step - b.step || a.order - b.order)
    events.forEach((e) => e.fn())
    const originOf = (id: string) => rec.appends.find((a) => a.id === id)?.region ?? region
    const arrows: string[] = []
    const dots: string[] = []
    for (const [id, pts] of life) {
      const c = color(originOf(id))
      for (let i = 1; i < pts.length; i++) {
        const a = pts[i - 1]!
        const b = pts[i]!
        if (a.uid === b.uid)
          out.push(
            `<line x1="${x(a.step)}" y1="${y(a.uid)}" x2="${x(b.step)}" y2="${y(b.uid)}" stroke="${c}" stroke-width="2.2" stroke-opacity="0.55"/>`,
          )
        else {
          arrows.push(curve(x(a.step), y(a.uid), x(b.step), y(b.uid), DUP, 'ah-dup', false))
          arrows.push(
            `<text x="${x(b.step) - 14}" y="${y(b.uid) + 15}" text-anchor="end" font-size="10.5" font-weight="700" fill="${DUP}" ${HALO}>${a.uid} → ${b.uid} ${id === rec.failover?.id && a.uid === rec.failover.dropped?.uid ? 'one copy per delivery' : 'duplicate-on-seen'}</text>`,
          )
          dots.push(
            `<g stroke="${DUP}" stroke-width="2"><line x1="${x(b.step) - 4}" y1="${y(a.uid) - 4}" x2="${x(b.step) + 4}" y2="${y(a.uid) + 4}"/><line x1="${x(b.step) - 4}" y1="${y(a.uid) + 4}" x2="${x(b.step) + 4}" y2="${y(a.uid) - 4}"/></g>`,
          )
          dots.push(`<text x="${x(b.step) + 8}" y="${y(a.uid) + 3.5}" font-size="9.5" ${HALO} fill="${DUP}">EXPUNGE ${a.uid}</text>`)
          dots.push(
            `<circle cx="${x(b.step)}" cy="${y(b.uid)}" r="9" fill="${DUP}" fill-opacity="0.18" stroke="${DUP}" stroke-width="1.5"/>`,
          )
        }
      }
      for (const p of pts) dots.push(`<circle cx="${x(p.step)}" cy="${y(p.uid)}" r="4.6" fill="${c}" stroke="#fff" stroke-width="1.2"/>`)
    }
    // appends by this client: a ring; deliveries: a hollow dashed circle and where that message went
    for (const a of mine) {
      const c = color(region)
      if (a.via === 'imap') {
        dots.push(`<circle cx="${x(a.step)}" cy="${y(a.uid!)}" r="8" fill="none" stroke="${c}" stroke-width="1.8"/>`)
        dots.push(
          `<text x="${x(a.step) - 12}" y="${y(a.uid!) + 3.5}" text-anchor="end" font-size="10" font-weight="600" ${HALO} fill="${c}">${esc(a.label)}</text>`,
        )
        continue
      }
      dots.push(`<circle cx="${x(a.step)}" cy="${y(a.uid!)}" r="6" fill="#fff" stroke="${c}" stroke-width="1.8" stroke-dasharray="3 2"/>`)
      dots.push(
        `<text x="${x(a.step) - 11}" y="${y(a.uid!) + 3.5}" text-anchor="end" font-size="10" font-weight="600" ${HALO} fill="${c}">${esc(a.label)}</text>`,
      )
      const f = rec.fates.find((ff) => ff.id === a.id)
      const shown = life.get(a.id)?.[0]
      if (shown === undefined) continue
      if (f !== undefined && f.kind === 'silent') {
        arrows.push(curve(x(a.step), y(a.uid!), x(shown.step), y(shown.uid), SILENT, 'ah-silent', true))
        arrows.push(
          `<text x="${x(shown.step) - 14}" y="${y(shown.uid) + 15}" text-anchor="end" font-size="10.5" font-weight="700" fill="${SILENT}" ${HALO}>${a.uid} → ${shown.uid} silent renumber</text>`,
        )
      } else
        out.push(
          `<line x1="${x(a.step)}" y1="${y(a.uid!)}" x2="${x(shown.step)}" y2="${y(shown.uid)}" stroke="${c}" stroke-width="1.6" stroke-dasharray="4 4" stroke-opacity="0.7"/>`,
        )
    }
    // UIDNEXT after each sync
    for (const s of snaps) {
      const cx = x(s.step)
      out.push(`<path d="M${cx - 13},${y(s.uidNext)} h26" stroke="#0f172a" stroke-width="2"/>`)
      out.push(`<text x="${cx + 16}" y="${y(s.uidNext) + 3.5}" font-size="9.5" ${HALO} fill="#0f172a">next ${s.uidNext}</text>`)
    }
    out.push(...arrows, ...dots)
    // final labels at the right
    const last = snaps.at(-1)
    if (last !== undefined) {
      const ys = spread(
        last.messages.map((m) => y(m.uid)),
        12,
        laneTop + 8,
        laneTop + laneH - 4,
      )
      last.messages.forEach((m, i) => {
        const f = rec.fates.find((ff) => ff.id === m.id)
        const hot = f?.kind === 'duplicate' && f.seenBy.includes(region) && f.finalUid === m.uid
        const ly = ys[i]!
        if (Math.abs(ly - y(m.uid)) > 1)
          out.push(`<path d="M${W - right + 2},${y(m.uid)} L${W - right + 11},${ly}" stroke="#94a3b8" stroke-width="0.8" fill="none"/>`)
        out.push(
          `<text x="${W - right + 14}" y="${ly + 3.5}" font-size="10.5" fill="${hot ? DUP : color(originOf(m.id))}" font-weight="${hot ? 700 : 500}"><tspan font-variant-numeric="tabular-nums">${m.uid}</tspan> ${esc(labelOf(m.id))}${f?.kind === 'silent' && originOf(m.id) === region ? ' <tspan fill="#64748b" font-style="italic">(silent)</tspan>' : hot ? ' (again)' : ''}</text>`,
        )
      })
    }
  })

  // legend
  const ly = H - 16
  const legend: string[] = []
  let lx = left
  const item = (mark: string, text: string) => {
    legend.push(`<g transform="translate(${lx},${ly})">${mark}<text x="16" y="4" font-size="11" fill="#334155">${text}</text></g>`)
    lx += 40 + text.length * 6.1
  }
  rec.regions.forEach((r) => item(`<circle r="5" fill="${color(r)}"/>`, `from ${esc(r)}`))
  item(`<circle r="7" fill="none" stroke="#334155" stroke-width="1.6"/>`, 'APPEND by the client')
  item(`<circle r="6" fill="#fff" stroke="#334155" stroke-width="1.6" stroke-dasharray="3 2"/>`, 'delivered, shown to nobody')
  item(`<path d="M-8,0 h16" stroke="#0f172a" stroke-width="2"/>`, 'UIDNEXT told')
  item(`<path d="M-8,0 h14" stroke="${DUP}" stroke-width="2" marker-end="url(#ah-dup)"/>`, 'duplicate-on-seen')
  item(`<path d="M-8,0 h14" stroke="${SILENT}" stroke-width="2" stroke-dasharray="4 3" marker-end="url(#ah-silent)"/>`, 'silent renumber')
  out.push(...legend)
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="100%" role="img" aria-label="UIDs over time per region">${out.join('\n')}</svg>`
}

/** A gentle S-curve from (x0,y0) to (x1,y1) with an arrowhead. */
function curve(x0: number, y0: number, x1: number, y1: number, stroke: string, marker: string, dashed: boolean): string {
  const mx = (x0 + x1) / 2
  return `<path d="M${x0},${y0} C${mx},${y0} ${mx},${y1} ${x1 - 6},${y1}" fill="none" stroke="${stroke}" stroke-width="2" ${dashed ? 'stroke-dasharray="5 4"' : ''} marker-end="url(#${marker})"/>`
}

/** Moves label positions apart (at least `gap`) while keeping their order and the band [lo, hi]. */
function spread(ys: number[], gap: number, lo: number, hi: number): number[] {
  const order = ys.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0])
  const out = order.map(([v]) => v)
  for (let i = 1; i < out.length; i++) out[i] = Math.max(out[i]!, out[i - 1]! + gap)
  if (out.length > 0 && out.at(-1)! > hi) {
    out[out.length - 1] = hi
    for (let i = out.length - 2; i >= 0; i--) out[i] = Math.min(out[i]!, out[i + 1]! - gap)
  }
  if (out.length > 0 && out[0]! < lo) for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i]!, lo + i * gap)
  const res: number[] = new Array<number>(ys.length)
  order.forEach(([, idx], k) => (res[idx] = out[k]!))
  return res
}
