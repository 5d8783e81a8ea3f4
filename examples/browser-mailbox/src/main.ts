/**
 * The offline-first mailbox: a mailweave edge replica in a browser tab. Plain DOM, no
 * framework. Every region tab keeps its own local replica in IndexedDB; see README.md.
 */
import { EdgeError, openAccount, requestToken, type Account, type AccountStatus, type EdgeMailbox } from '@mailweave/browser'
import type { MessageInfo, ViewEntry } from '@mailweave/core'
import { loadConfig, type AppConfig, type Region } from './config.ts'
import { composeMessage, decodeWords, parseMessage } from './mime.ts'
import { Timeline, regionColor, renderTimeline } from './timeline.ts'

interface Session {
  user: string
  token: string
  region: string
}

/** What tests and the benchmark read from the page. */
interface Probe {
  startedAt: number
  accountOpenAt?: number
  firstListAt?: number
  firstListRows?: number
  account?: Account
}

declare global {
  interface Window {
    __mailweave: Probe
  }
}

window.__mailweave = { startedAt: performance.now() }
const probe = window.__mailweave
const ROW = 56
const app = document.getElementById('app')!

// ---------------------------------------------------------------- tiny DOM helpers

type Child = Node | string | null | undefined | false
function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, unknown> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v as EventListener)
    else if (k === 'class') e.className = String(v)
    else if (k === 'text') e.textContent = String(v)
    else e.setAttribute(k, v === true ? '' : String(v))
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c)
  return e
}

const session = {
  get(): Session | undefined {
    const s = sessionStorage.getItem('mailweave.session')
    return s === null ? undefined : (JSON.parse(s) as Session)
  },
  set(s: Session | undefined): void {
    if (s === undefined) sessionStorage.removeItem('mailweave.session')
    else sessionStorage.setItem('mailweave.session', JSON.stringify(s))
  },
}

function replicaId(): string {
  // one edge replica per tab: it breaks ties between concurrent flag changes
  let id = sessionStorage.getItem('mailweave.replica')
  if (id === null) {
    id = `web-${Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('')}`
    sessionStorage.setItem('mailweave.replica', id)
  }
  return id
}

let toastTimer: ReturnType<typeof setTimeout> | undefined
function toast(text: string, kind: 'ok' | 'error' = 'ok'): void {
  let t = document.getElementById('toast')
  if (t === null) {
    t = h('div', { id: 'toast', role: 'status' })
    document.body.append(t)
  }
  t.textContent = text
  t.className = `toast show ${kind}`
  if (toastTimer !== undefined) clearTimeout(toastTimer)
  toastTimer = setTimeout(() => t.classList.remove('show'), 3500)
}

const errorText = (e: unknown) => (e instanceof EdgeError ? e.message : e instanceof Error ? e.message : String(e))
const fmtDate = (ms: number) => new Date(ms).toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })

// ---------------------------------------------------------------- boot

async function boot(): Promise<void> {
  let config: AppConfig
  try {
    config = await loadConfig()
  } catch (e) {
    app.replaceChildren(
      h(
        'div',
        { class: 'center' },
        h('div', { class: 'card' }, h('h1', { text: 'mailweave' }), h('p', { class: 'error', text: errorText(e) })),
      ),
    )
    return
  }
  const s = session.get()
  const q = new URLSearchParams(location.search)
  const wanted = q.get('region')
  if (s !== undefined && config.regions.some((r) => r.id === s.region)) {
    if (wanted !== null && wanted !== s.region && config.regions.some((r) => r.id === wanted)) s.region = wanted
    await start(config, s)
  } else renderLogin(config, wanted ?? config.regions[0]!.id)
}

function renderLogin(config: AppConfig, regionId: string, error?: string): void {
  const user = h('input', { name: 'user', autocomplete: 'username', value: config.user, required: true, 'data-testid': 'login-user' })
  const password = h('input', {
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    value: config.password,
    required: true,
    'data-testid': 'login-password',
  })
  const region = h(
    'select',
    { name: 'region', 'data-testid': 'login-region' },
    ...config.regions.map((r) => h('option', { value: r.id, selected: r.id === regionId }, `${r.label} — ${r.url}`)),
  )
  const status = h('p', { class: 'error', text: error ?? '' })
  const submit = h('button', { type: 'submit', class: 'primary wide', 'data-testid': 'login-submit' }, 'Sign in')
  const form = h(
    'form',
    {
      class: 'card login',
      onsubmit: async (ev: Event) => {
        ev.preventDefault()
        submit.disabled = true
        status.textContent = ''
        const r = config.regions.find((x) => x.id === region.value)!
        try {
          const token = await requestToken(r.url, user.value.trim(), password.value)
          const s = { user: user.value.trim(), token, region: r.id }
          session.set(s)
          await start(config, s)
        } catch (e) {
          status.textContent = errorText(e)
          submit.disabled = false
        }
      },
    },
    h('div', { class: 'brand big' }, h('span', { class: 'logo', text: '✉' }), 'mailweave'),
    h('p', {
      class: 'muted',
      text: 'An offline-first mailbox: this tab keeps a replica of your account in IndexedDB and syncs it with the region you pick.',
    }),
    h('label', {}, 'User', user),
    h('label', {}, 'Password', password),
    h('label', {}, 'Region', region),
    submit,
    status,
  )
  app.replaceChildren(h('div', { class: 'center' }, form))
  user.focus()
}

// ---------------------------------------------------------------- the mail app

async function start(config: AppConfig, s: Session): Promise<void> {
  const region = config.regions.find((r) => r.id === s.region)!
  const online = sessionStorage.getItem('mailweave.online') !== '0'
  let account: Account
  try {
    account = await openAccount({
      nodeUrl: region.url,
      token: s.token,
      user: s.user,
      replica: replicaId(),
      online,
      idb: { namespace: namespace(config, s.user, region) },
    })
  } catch (e) {
    renderLogin(config, region.id, errorText(e))
    return
  }
  probe.accountOpenAt = performance.now()
  probe.account = account
  new MailApp(config, s, region, account).mount()
}

const namespace = (config: AppConfig, user: string, region: Region) => `${config.cluster}/${user}/${region.id}`

class MailApp {
  private mailbox: EdgeMailbox | undefined
  private selected: string | undefined
  private timeline: Timeline
  private unsubs: (() => void)[] = []
  private mailboxUnsubs: (() => void)[] = []
  private renderQueued = false
  private readonly probes = new Map<string, 'up' | 'down' | 'unknown'>()
  private probeTimer: ReturnType<typeof setInterval> | undefined
  private bodyToken = 0
  private lastError: string | undefined

  // layout
  private readonly regionTabs = h('nav', { class: 'regions', 'aria-label': 'Regions' })
  private readonly syncInfo = h('span', { class: 'sync', 'data-testid': 'status' })
  private readonly onlineToggle = h('input', { type: 'checkbox', role: 'switch', 'data-testid': 'online-toggle' })
  /** Says what the switch is now: Online or Offline. */
  private readonly switchLabel = h('span', { class: 'switch-label', 'data-testid': 'online-label', text: 'Online' })
  /** The Links panel: a cut/heal switch per peer link of `pnpm start`'s cluster. */
  private readonly linksList = h('ul', { class: 'links', 'data-testid': 'links' })
  private readonly sidebar = h('ul', { class: 'mailboxes' })
  private readonly listTitle = h('h2', {})
  private readonly listCount = h('span', { class: 'muted small' })
  private readonly list = h('div', { class: 'list', 'data-testid': 'message-list', tabindex: 0 })
  private readonly listInner = h('div', { class: 'list-inner' })
  private readonly reader = h('section', { class: 'reader', 'data-testid': 'reader' })
  private readonly timelineSvg = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
  private readonly banner = h('div', { class: 'banner', hidden: true })

  constructor(
    private readonly config: AppConfig,
    private readonly session: Session,
    private region: Region,
    private readonly account: Account,
  ) {
    this.timeline = new Timeline(this.timelineKey('INBOX'))
  }

  private timelineKey(mailboxId: string): string {
    return `mailweave.timeline/${namespace(this.config, this.session.user, this.region)}/${mailboxId}`
  }

  mount(): void {
    this.onlineToggle.checked = this.account.status().online
    this.onlineToggle.addEventListener('change', () => {
      this.account.setOnline(this.onlineToggle.checked)
      sessionStorage.setItem('mailweave.online', this.onlineToggle.checked ? '1' : '0')
      toast(this.onlineToggle.checked ? 'Online: syncing with the region' : 'Offline: changes stay in this browser until you go online')
    })
    this.timelineSvg.setAttribute('data-testid', 'timeline')
    this.timelineSvg.classList.add('timeline')
    this.list.append(this.listInner)
    this.list.addEventListener('scroll', () => this.renderRows())
    const header = h(
      'header',
      { class: 'topbar' },
      h('div', { class: 'brand' }, h('span', { class: 'logo', text: '✉' }), 'mailweave'),
      this.regionTabs,
      h('div', { class: 'spacer' }),
      this.syncInfo,
      h(
        'label',
        { class: 'switch', title: 'The offline switch: disconnects every socket and stops uploads' },
        this.onlineToggle,
        h('span', { class: 'slider' }),
        this.switchLabel,
      ),
      h('span', { class: 'user', text: this.session.user }),
      h('button', { class: 'ghost', onclick: () => void this.logout() }, 'Sign out'),
    )
    const main = h(
      'main',
      { class: 'layout' },
      h(
        'aside',
        { class: 'side' },
        h('button', { class: 'primary wide', 'data-testid': 'compose-button', onclick: () => this.compose() }, '✎ Compose'),
        h('h3', { text: 'Mailboxes' }),
        this.sidebar,
        h('button', { class: 'ghost small', onclick: () => void this.newMailbox() }, '+ New mailbox'),
        this.config.control === undefined
          ? null
          : h('h3', { text: 'Links', title: 'Cut regions apart and heal them (pnpm start’s link control)' }),
        this.config.control === undefined ? null : this.linksList,
      ),
      h('section', { class: 'messages' }, h('div', { class: 'list-head' }, this.listTitle, this.listCount), this.list),
      this.reader,
    )
    const foot = h(
      'section',
      { class: 'timeline-panel' },
      h(
        'div',
        { class: 'timeline-head' },
        h('h3', { text: 'UID timeline' }),
        h('span', {
          class: 'muted small',
          text: 'UIDs as this tab learnt them, coloured by the region that allocated them. Late arrivals (ringed) are another region’s UIDs from a partition; dashed arrows are fixups after the heal.',
        }),
        h('button', { class: 'ghost small', onclick: () => this.timeline.clear() }, 'Clear'),
      ),
      this.timelineSvg,
    )
    app.replaceChildren(h('div', { class: 'shell' }, header, this.banner, main, foot))
    this.unsubs.push(this.account.subscribe((st) => this.onStatus(st)))
    this.unsubs.push(this.account.onMailboxesChange(() => this.renderSidebar()))
    this.unsubs.push(this.account.onSwitch(() => void this.select(this.selected ?? 'INBOX')))
    window.addEventListener('resize', () => this.queueRender())
    this.probeTimer = setInterval(() => {
      void this.probeRegions()
      void this.loadLinks()
      this.renderTimelineNow() // the time axis moves on
    }, 4000)
    void this.probeRegions()
    void this.loadLinks()
    this.renderRegions()
    this.renderSidebar()
    this.onStatus(this.account.status())
    void this.select(sessionStorage.getItem('mailweave.mailbox') ?? 'INBOX')
  }

  private async logout(): Promise<void> {
    for (const u of [...this.unsubs, ...this.mailboxUnsubs]) u()
    if (this.probeTimer !== undefined) clearInterval(this.probeTimer)
    await this.account.close().catch(() => undefined)
    session.set(undefined)
    renderLogin(this.config, this.region.id)
  }

  // ------------------------------------------------------------ links (cut/heal)

  /** Reads the links from the control (or changes one first) and redraws the panel. */
  private async loadLinks(change?: { id: string; action: 'cut' | 'heal' }): Promise<void> {
    const control = this.config.control
    if (control === undefined) return
    try {
      const res = await fetch(
        change === undefined ? `${control}/links` : `${control}/links/${encodeURIComponent(change.id)}/${change.action}`,
        { method: change === undefined ? 'GET' : 'POST', cache: 'no-store' },
      )
      if (!res.ok) throw new Error(`${res.status} ${((await res.json().catch(() => ({}))) as { message?: string }).message ?? ''}`)
      this.renderLinks(((await res.json()) as { links: { id: string; cut: boolean }[] }).links)
      if (change !== undefined)
        toast(change.action === 'cut' ? `Link ${change.id} cut: the two regions no longer talk directly` : `Link ${change.id} healed`)
    } catch (e) {
      if (change !== undefined) toast(`The link control did not answer: ${e instanceof Error ? e.message : String(e)}`, 'error')
      this.linksList.replaceChildren(h('li', { class: 'muted small', text: 'link control unreachable' }))
    }
  }

  private renderLinks(links: { id: string; cut: boolean }[]): void {
    this.linksList.replaceChildren(
      ...links.map((l) =>
        h(
          'li',
          {},
          h(
            'button',
            {
              class: `link ${l.cut ? 'cut' : 'up'}`,
              'data-testid': `link-${l.id}`,
              'data-cut': String(l.cut),
              title: l.cut ? 'Cut: click to heal' : 'Up: click to cut',
              onclick: () => void this.loadLinks({ id: l.id, action: l.cut ? 'heal' : 'cut' }),
            },
            h('span', { class: `dot ${l.cut ? 'down' : 'up'}` }),
            h('span', { class: 'name', text: l.id.replace('-', ' ↔ ') }),
            h('span', { class: 'state', text: l.cut ? 'cut' : 'up' }),
          ),
        ),
      ),
    )
  }

  // ------------------------------------------------------------ regions and status

  private async probeRegions(): Promise<void> {
    if (!this.account.status().online) return
    await Promise.all(
      this.config.regions.map(async (r) => {
        try {
          const res = await fetch(`${r.url}/healthz`, { cache: 'no-store', signal: AbortSignal.timeout(2500) })
          this.probes.set(r.id, res.ok ? 'up' : 'down')
        } catch {
          this.probes.set(r.id, 'down')
        }
      }),
    )
    this.renderRegions()
  }

  private renderRegions(): void {
    const st = this.account.status()
    this.regionTabs.replaceChildren(
      ...this.config.regions.map((r) => {
        const current = r.id === this.region.id
        const state = current ? st.connection : !st.online ? 'offline' : (this.probes.get(r.id) ?? 'unknown')
        return h(
          'button',
          {
            class: `region ${current ? 'current' : ''}`,
            'data-testid': `region-${r.id}`,
            'data-state': state,
            title: `${r.url} — ${state}`,
            onclick: () => void this.switchRegion(r),
          },
          h('span', {
            class: `dot ${state}`,
            style: `--c:${regionColor(
              this.config.regions.map((x) => x.id),
              r.id,
            )}`,
          }),
          r.label,
          current ? h('span', { class: 'state', text: state }) : null,
        )
      }),
    )
  }

  private async switchRegion(r: Region): Promise<void> {
    if (r.id === this.region.id) return
    this.region = r
    this.session.region = r.id
    session.set(this.session)
    const url = new URL(location.href)
    url.searchParams.set('region', r.id)
    history.replaceState(null, '', url)
    this.mailbox = undefined
    this.renderRegions()
    try {
      await this.account.switchNode(r.url, { namespace: namespace(this.config, this.session.user, r) })
      toast(`Now on ${r.label}: this region has its own local replica`)
    } catch (e) {
      toast(errorText(e), 'error')
    }
  }

  private onStatus(st: AccountStatus): void {
    const parts = [
      st.connection === 'offline' ? 'offline' : `${st.docs.synced}/${st.docs.open} synced`,
      st.pendingUploads > 0 ? `⇡ ${st.pendingUploads} upload${st.pendingUploads === 1 ? '' : 's'}` : '⇡ 0',
      st.pendingWrites > 0 ? `saving ${st.pendingWrites}` : 'saved',
    ]
    this.syncInfo.textContent = parts.join(' · ')
    this.syncInfo.dataset.connection = st.connection
    this.syncInfo.dataset.pendingUploads = String(st.pendingUploads)
    this.syncInfo.dataset.pendingWrites = String(st.pendingWrites)
    this.syncInfo.dataset.synced = String(st.docs.open > 0 && st.docs.synced === st.docs.open)
    this.onlineToggle.checked = st.online
    this.switchLabel.textContent = st.online ? 'Online' : 'Offline'
    this.timeline.connection(st.connection)
    this.renderRegions()
    const rejected = st.connection === 'rejected'
    this.banner.hidden = !rejected
    if (rejected) {
      this.banner.className = 'banner error'
      this.banner.replaceChildren(
        h('span', {
          text: `${st.regions[0]?.error ?? 'The node refused this tab’s local copy.'} It holds changes this region never saw (e.g. from an older cluster).`,
        }),
        h(
          'button',
          { class: 'ghost small', onclick: () => void this.account.resetLocalCopy().then(() => toast('Local copy reset: resyncing')) },
          'Reset local copy',
        ),
      )
    }
    if (st.lastError !== undefined && st.lastError !== this.lastError) toast(st.lastError, 'error')
    this.lastError = st.lastError
  }

  // ------------------------------------------------------------ mailboxes

  private renderSidebar(): void {
    const list = this.account.mailboxes()
    this.sidebar.replaceChildren(
      ...list.map((m) =>
        h(
          'li',
          {},
          h(
            'button',
            {
              class: `mailbox ${m.id === this.selected ? 'active' : ''}`,
              'data-testid': `mailbox-${m.name}`,
              onclick: () => void this.select(m.id),
            },
            h('span', { class: 'icon', text: m.id === 'INBOX' ? '⌂' : /draft/i.test(m.name) ? '✎' : /sent/i.test(m.name) ? '➚' : '▤' }),
            h('span', { class: 'name', text: m.name }),
            m.id === this.selected && this.mailbox !== undefined ? this.unreadBadge(this.mailbox) : null,
          ),
        ),
      ),
    )
  }

  /** The unread count of the open mailbox (messages without \\Seen, saved-but-unbound ones included); nothing when all are read. */
  private unreadBadge(mb: EdgeMailbox): HTMLElement | null {
    const view = mb.view()
    let unread = mb.pending().filter((m) => !m.flags.includes('\\Seen')).length
    for (let seq = 1; seq <= view.size; seq++) if (view.atSeq(seq)?.flags.includes('\\Seen') === false) unread++
    return unread === 0
      ? null
      : h('span', { class: 'count', 'data-testid': 'unread-count', title: `${unread} unread`, text: String(unread) })
  }

  private async newMailbox(): Promise<void> {
    const name = prompt('Name of the new mailbox (e.g. Drafts):')?.trim()
    if (name === undefined || name === '') return
    try {
      await this.account.createMailbox(name)
      toast(`Created ${name}`)
    } catch (e) {
      toast(errorText(e), 'error')
    }
  }

  private async select(id: string): Promise<void> {
    for (const u of this.mailboxUnsubs) u()
    this.mailboxUnsubs = []
    this.selected = id
    sessionStorage.setItem('mailweave.mailbox', id)
    let mb: EdgeMailbox
    try {
      mb = await this.account.mailbox(id)
    } catch (e) {
      toast(errorText(e), 'error')
      return
    }
    if (this.selected !== id) return
    this.mailbox = mb
    this.timeline = new Timeline(this.timelineKey(id))
    this.timeline.connection(this.account.status().connection)
    this.timeline.observe(mb)
    this.mailboxUnsubs.push(mb.core.onChange((c) => this.timeline.observe(mb, c)))
    this.mailboxUnsubs.push(mb.onChange(() => this.queueRender()))
    this.mailboxUnsubs.push(this.timeline.onChange(() => this.renderTimelineNow()))
    this.list.scrollTop = 0
    this.renderSidebar()
    this.renderList()
    this.renderReader()
    this.renderTimelineNow()
  }

  private queueRender(): void {
    if (this.renderQueued) return
    this.renderQueued = true
    requestAnimationFrame(() => {
      this.renderQueued = false
      this.renderList()
      this.renderReader()
      this.renderSidebar()
    })
  }

  // ------------------------------------------------------------ message list

  private pendingCache: MessageInfo[] = []

  /** Row `i` of the list: messages without a UID first, then the view newest first. */
  private rowAt(i: number, view: ReturnType<EdgeMailbox['view']>): { guid: string; entry?: ViewEntry; pending?: MessageInfo } | undefined {
    const p = this.pendingCache
    if (i < p.length) return { guid: p[i]!.guid, pending: p[i]! }
    const e = view.atSeq(view.size - (i - p.length))
    return e === undefined ? undefined : { guid: e.guid, entry: e }
  }

  private renderList(): void {
    const mb = this.mailbox
    if (mb === undefined) return
    const name = this.account.mailboxes().find((m) => m.id === mb.id)?.name ?? mb.id
    this.listTitle.textContent = name
    this.pendingCache = mb.pending().reverse()
    const view = mb.view()
    const total = view.size + this.pendingCache.length
    this.listCount.textContent = `${view.size} with UIDs${this.pendingCache.length > 0 ? ` · ${this.pendingCache.length} waiting for a UID` : ''}${view.uidValidity > 0 ? ` · UIDVALIDITY ${view.uidValidity}` : ''}`
    this.listInner.style.height = `${Math.max(total * ROW, 1)}px`
    this.renderRows()
  }

  private renderRows(): void {
    const mb = this.mailbox
    if (mb === undefined) return
    const view = mb.view()
    const total = view.size + this.pendingCache.length
    const top = this.list.scrollTop
    const first = Math.max(0, Math.floor(top / ROW) - 4)
    const last = Math.min(total, Math.ceil((top + (this.list.clientHeight || 600)) / ROW) + 4)
    const rows: HTMLElement[] = []
    for (let i = first; i < last; i++) {
      const r = this.rowAt(i, view)
      if (r === undefined) continue
      const info = r.pending ?? mb.message(r.guid)
      if (info === undefined) continue
      const flags = r.entry?.flags ?? info.flags
      const seen = flags.includes('\\Seen')
      const flagged = flags.includes('\\Flagged')
      const uid = r.entry?.uid
      rows.push(
        h(
          'div',
          {
            class: `row ${seen ? '' : 'unseen'} ${r.guid === this.openGuid ? 'selected' : ''} ${uid === undefined ? 'pending' : ''}`,
            style: `top:${i * ROW}px`,
            'data-testid': 'message-row',
            'data-guid': r.guid,
            'data-uid': uid ?? '',
            'data-flags': flags.join(' '),
            onclick: () => this.open(r.guid),
          },
          h('span', { class: `star ${flagged ? 'on' : ''}`, text: flagged ? '★' : '☆' }),
          h(
            'div',
            { class: 'row-main' },
            h(
              'div',
              { class: 'row-top' },
              h('span', { class: 'from', text: decodeWords(info.headers.from ?? info.origin) }),
              h('span', { class: 'date', text: fmtDate(info.internalDate.getTime()) }),
            ),
            h('div', { class: 'subject', text: decodeWords(info.headers.subject ?? '(no subject)') }),
          ),
          h(
            'span',
            {
              class: `uid ${uid === undefined ? 'none' : ''}`,
              title: uid === undefined ? 'No UID yet: a node binds it once the message reaches it' : `UID ${uid}`,
            },
            uid === undefined ? 'no UID yet' : `UID ${uid}`,
          ),
        ),
      )
    }
    this.listInner.replaceChildren(...rows)
    if (total === 0)
      this.listInner.replaceChildren(h('div', { class: 'empty', text: 'No messages here yet. Compose one — it works offline too.' }))
    if (probe.firstListAt === undefined && rows.length > 0) {
      probe.firstListAt = performance.now()
      probe.firstListRows = total
      performance.mark('mailweave:first-list')
    }
  }

  // ------------------------------------------------------------ reader

  private openGuid: string | undefined

  private open(guid: string): void {
    this.openGuid = guid
    this.renderRows()
    this.renderReader(true)
  }

  private renderReader(fetchBody = false): void {
    const mb = this.mailbox
    const guid = this.openGuid
    const info = guid === undefined ? undefined : mb?.message(guid)
    if (mb === undefined || guid === undefined || info === undefined) {
      this.reader.replaceChildren(
        h('div', { class: 'empty', text: 'Select a message to read it, see its UID history and flag or delete it.' }),
      )
      return
    }
    if (info.expunged) {
      this.reader.replaceChildren(
        h('div', { class: 'empty', text: 'This message was deleted (an expunge wins over everything: it never comes back).' }),
      )
      return
    }
    const flagged = info.flags.includes('\\Flagged')
    const seen = info.flags.includes('\\Seen')
    const body = this.reader.querySelector<HTMLElement>('.body')
    const keepBody = !fetchBody && body !== null && body.dataset.guid === guid
    const bodyEl = keepBody
      ? body
      : h('pre', { class: 'body', 'data-guid': guid, 'data-testid': 'message-body', text: 'Loading the body…' })
    const act = (label: string, testid: string, fn: () => Promise<void>) =>
      h(
        'button',
        {
          class: 'ghost',
          'data-testid': testid,
          onclick: async (ev: Event) => {
            const b = ev.currentTarget as HTMLButtonElement
            b.disabled = true
            try {
              await fn()
            } catch (e) {
              toast(errorText(e), 'error')
            } finally {
              b.disabled = false
            }
          },
        },
        label,
      )
    this.reader.replaceChildren(
      h(
        'div',
        { class: 'reader-head' },
        h('h2', { text: decodeWords(info.headers.subject ?? '(no subject)') }),
        h('div', { class: 'flags' }, ...info.flags.map((f) => h('span', { class: 'flag', text: f }))),
      ),
      h(
        'dl',
        { class: 'headers' },
        h('dt', { text: 'From' }),
        h('dd', { text: decodeWords(info.headers.from ?? '') }),
        h('dt', { text: 'To' }),
        h('dd', { text: decodeWords(info.headers.to ?? '') }),
        h('dt', { text: 'Date' }),
        h('dd', { text: info.headers.date ?? info.internalDate.toUTCString() }),
      ),
      h(
        'div',
        { class: 'actions' },
        act(flagged ? '★ Unflag' : '☆ Flag', 'flag-button', () =>
          mb.setFlags(guid, flagged ? { remove: ['\\Flagged'] } : { add: ['\\Flagged'] }),
        ),
        act(seen ? 'Mark unread' : 'Mark read', 'seen-button', () =>
          mb.setFlags(guid, seen ? { remove: ['\\Seen'] } : { add: ['\\Seen'] }),
        ),
        act('✕ Delete', 'delete-button', async () => {
          await mb.expunge([guid])
          toast('Deleted (expunged everywhere once synced)')
        }),
      ),
      bodyEl,
      this.history(info),
    )
    if (!keepBody) void this.loadBody(mb, guid, bodyEl)
  }

  private async loadBody(mb: EdgeMailbox, guid: string, el: HTMLElement): Promise<void> {
    const token = ++this.bodyToken
    try {
      const raw = await mb.body(guid)
      if (token !== this.bodyToken) return
      if (raw === undefined) {
        el.textContent = this.account.status().online
          ? 'The body is not at this node yet (it follows the metadata); try again in a moment.'
          : 'The body is not in this browser yet, and the tab is offline.'
        el.classList.add('muted')
        return
      }
      const parsed = parseMessage(raw)
      el.textContent = parsed.text.trim() === '' ? '(empty message)' : parsed.text
      el.title = `${raw.length} bytes · ${parsed.source} · verified against SHA-256 ${mb.message(guid)?.hash.slice(0, 12) ?? ''}…`
    } catch (e) {
      if (token === this.bodyToken) el.textContent = errorText(e)
    }
  }

  private history(info: MessageInfo): HTMLElement {
    const rows = info.bindings.map((b) =>
      h(
        'tr',
        { class: b.uid === info.uid ? 'current' : b.valid ? '' : 'invalid' },
        h('td', { text: String(b.uid) }),
        h(
          'td',
          {},
          h('span', {
            class: 'chip',
            style: `--c:${regionColor(
              this.config.regions.map((r) => r.id),
              b.allocator,
            )}`,
            text: b.allocator,
          }),
        ),
        h('td', { text: b.uid === info.uid ? 'shown' : b.valid ? 'valid' : 'stranded' }),
        h('td', { text: b.seenBy.length > 0 ? b.seenBy.join(', ') : '—' }),
      ),
    )
    const fixups = Math.max(0, info.bindings.length - 1)
    return h(
      'div',
      { class: 'history', 'data-testid': 'uid-history' },
      h('h3', { text: 'UID history' }),
      h(
        'p',
        { class: 'muted small' },
        `Appended by `,
        h('strong', { text: info.origin }),
        ` at ${new Date(info.appendedAt).toLocaleString()}. `,
        info.bindings.length === 0
          ? 'No UID yet: a node binds it once the message reaches it.'
          : `First UID ${info.bindings[0]!.uid} (by ${info.bindings[0]!.allocator}); ${fixups === 0 ? 'no fixups' : `${fixups} fixup${fixups === 1 ? '' : 's'}`}; shown now at ${info.uid === undefined ? '—' : `UID ${info.uid}`}.`,
      ),
      rows.length > 0
        ? h(
            'table',
            {},
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { text: 'UID' }),
                h('th', { text: 'allocated by' }),
                h('th', { text: 'state' }),
                h('th', { text: 'seen by (nodes that showed it)' }),
              ),
            ),
            h('tbody', {}, ...rows),
          )
        : null,
    )
  }

  // ------------------------------------------------------------ compose

  private compose(): void {
    const boxes = this.account.mailboxes()
    const to = h('input', { name: 'to', placeholder: 'bob@example.org', value: 'bob@example.org', 'data-testid': 'compose-to' })
    const subject = h('input', { name: 'subject', placeholder: 'Subject', required: true, 'data-testid': 'compose-subject' })
    const body = h('textarea', {
      name: 'body',
      rows: 8,
      placeholder: 'Write something — this works offline.',
      'data-testid': 'compose-body',
    })
    const target = h(
      'select',
      { name: 'mailbox', 'data-testid': 'compose-mailbox' },
      ...boxes.map((m) =>
        h('option', { value: m.id, selected: m.id === (boxes.find((b) => /draft/i.test(b.name))?.id ?? this.selected) }, m.name),
      ),
    )
    const dialog = h('dialog', { class: 'compose' })
    const save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'compose-save' }, 'Save')
    const form = h(
      'form',
      {
        method: 'dialog',
        onsubmit: async (ev: Event) => {
          ev.preventDefault()
          save.disabled = true
          try {
            const mb = await this.account.mailbox(target.value)
            const raw = composeMessage({
              from: `${this.session.user}@mailweave.example`,
              to: to.value,
              subject: subject.value,
              body: body.value,
            })
            const isDraft = /draft/i.test(boxes.find((b) => b.id === target.value)?.name ?? '')
            const guid = await mb.append(raw, { flags: isDraft ? ['\\Draft', '\\Seen'] : ['\\Seen'] })
            if (mb === this.mailbox) this.timeline.append(guid)
            dialog.close()
            dialog.remove()
            toast(
              `Saved to ${mb.name}: stored in this browser${this.account.status().online ? ', syncing' : ' — it syncs when you go online'}`,
            )
          } catch (e) {
            toast(errorText(e), 'error')
            save.disabled = false
          }
        },
      },
      h('h2', { text: 'New message' }),
      h('label', {}, 'To', to),
      h('label', {}, 'Subject', subject),
      h('label', {}, 'Message', body),
      h('label', {}, 'Save to', target),
      h(
        'div',
        { class: 'dialog-actions' },
        h('button', { type: 'button', class: 'ghost', onclick: () => (dialog.close(), dialog.remove()) }, 'Cancel'),
        save,
      ),
    )
    dialog.append(form)
    document.body.append(dialog)
    dialog.showModal()
    subject.focus()
  }

  // ------------------------------------------------------------ timeline

  private timelineQueued = false
  private renderTimelineNow(): void {
    if (this.timelineQueued) return
    this.timelineQueued = true
    requestAnimationFrame(() => {
      this.timelineQueued = false
      renderTimeline(
        this.timelineSvg,
        this.timeline.events,
        this.config.regions.map((r) => r.id),
      )
    })
  }
}

void boot()
