/** Where the app learns its regions: `/config.json`, overridden by query parameters. */

export interface Region {
  id: string
  url: string
  label: string
}

export interface AppConfig {
  regions: Region[]
  cluster: string
  user: string
  password: string
  /** The link control of `pnpm start` (cut/heal per peer link), when the page was served by it. */
  control?: string
}

interface RawConfig {
  regions?: { id?: unknown; url?: unknown; label?: unknown }[]
  cluster?: unknown
  user?: unknown
  password?: unknown
  control?: unknown
}

function parseRegions(text: string): Region[] {
  // "eu=http://127.0.0.1:7101,us=http://127.0.0.1:7102"
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part, i) => {
      const eq = part.indexOf('=')
      const id = eq > 0 ? part.slice(0, eq) : `r${i + 1}`
      const url = (eq > 0 ? part.slice(eq + 1) : part).replace(/\/+$/, '')
      return { id, url, label: id }
    })
}

/**
 * Reads the configuration: `/config.json` (served by `pnpm start` or the dev server), then
 * query parameters override it: `regions=eu=http://…,us=http://…`, `cluster`,
 * `user`, `password`. Throws a readable error when no region is known.
 */
export async function loadConfig(search: string = location.search): Promise<AppConfig> {
  const q = new URLSearchParams(search)
  let raw: RawConfig = {}
  try {
    const res = await fetch('/config.json', { cache: 'no-store' })
    if (res.ok) raw = (await res.json()) as RawConfig
  } catch {
    // offline reload: fall back to the copy saved below
  }
  if (raw.regions === undefined) {
    const saved = localStorage.getItem('mailweave.config')
    if (saved !== null) raw = JSON.parse(saved) as RawConfig
  } else localStorage.setItem('mailweave.config', JSON.stringify(raw))
  let regions: Region[] = (raw.regions ?? [])
    .filter((r) => typeof r.id === 'string' && typeof r.url === 'string')
    .map((r) => ({ id: String(r.id), url: String(r.url).replace(/\/+$/, ''), label: typeof r.label === 'string' ? r.label : String(r.id) }))
  const qRegions = q.get('regions')
  if (qRegions !== null) regions = parseRegions(qRegions)
  if (regions.length === 0)
    throw new Error(
      'No regions configured. Start the cluster with `pnpm start` (it serves /config.json), or open this page with ?regions=eu=http://127.0.0.1:PORT,us=http://127.0.0.1:PORT',
    )
  return {
    regions,
    cluster: String(q.get('cluster') ?? raw.cluster ?? 'local'),
    user: String(q.get('user') ?? raw.user ?? ''),
    password: String(q.get('password') ?? raw.password ?? ''),
    control: typeof raw.control === 'string' ? raw.control.replace(/\/+$/, '') : undefined,
  }
}
