/**
 * The offline-first mailbox example in a real browser (Debian's Chromium through
 * playwright-core) against in-process nodes: offline saves survive a reload and get UIDs
 * once online; two tabs on two regions converge after a partition heals.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PNG } from 'pngjs'
import type { Page } from 'playwright-core'
import { MailNode, silentLogger } from '@mailweave/server'
import { FaultProxy, waitFor, freePort } from '@mailweave/testkit'
import { serveLinkControl, type LinkControl } from '@mailweave/testkit-cluster'
import { buildExample, previewExample, type ExampleServer } from '@mailweave/example-browser-mailbox/serve'
import { launchChromium } from './chromium.ts'

const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts')
const secret = new Uint8Array(32).fill(42)
const tmp: string[] = []
let eu: MailNode
let us: MailNode
let proxy: FaultProxy
let server: ExampleServer
let browser: Awaited<ReturnType<typeof launchChromium>>
let token: string
let control: LinkControl

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix))
  tmp.push(d)
  return d
}

async function api(node: MailNode, path: string): Promise<any> {
  const res = await fetch(node.url + path, { headers: { authorization: `Bearer ${token}` } })
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return res.headers.get('content-type')?.includes('json') === true ? res.json() : new Uint8Array(await res.arrayBuffer())
}

interface RowInfo {
  guid: string
  uid: number | undefined
  flags: string[]
  subject: string
}

const rows = (page: Page): Promise<RowInfo[]> =>
  page.$$eval('[data-testid=message-row]', (els) =>
    els.map((e) => {
      const el = e as HTMLElement
      return {
        guid: el.dataset.guid ?? '',
        uid: el.dataset.uid === '' ? undefined : Number(el.dataset.uid),
        flags: (el.dataset.flags ?? '').split(' ').filter((f) => f !== ''),
        subject: el.querySelector('.subject')?.textContent ?? '',
      }
    }),
  )

const status = (page: Page) => page.getByTestId('status')

async function signIn(page: Page, region: string): Promise<void> {
  await page.goto(`${server.url}/?region=${region}`)
  // the demo account is prefilled from /config.json
  await page.getByTestId('login-submit').click()
  await waitFor(async () => (await status(page).getAttribute('data-connection')) === 'connected', 15_000, `tab on ${region} connected`, 50)
}

async function compose(page: Page, subject: string): Promise<void> {
  await page.bringToFront()
  const before = (await rows(page)).length
  await page.getByTestId('compose-button').click()
  await page.getByTestId('compose-subject').fill(subject)
  await page.getByTestId('compose-body').fill(`This is ${subject}.`)
  await page.getByTestId('compose-save').click()
  await waitFor(async () => (await rows(page)).length === before + 1, 10_000, `row for ${subject}`, 20)
}

async function setAppOnline(page: Page, online: boolean): Promise<void> {
  await page.locator('label.switch').click()
  await waitFor(
    async () => ((await status(page).getAttribute('data-connection')) === 'offline') !== online,
    10_000,
    `app ${online ? 'online' : 'offline'}`,
    20,
  )
}

beforeAll(async () => {
  const euPort = await freePort()
  us = await MailNode.start(
    {
      nodeId: 'us',
      slot: 1,
      stride: 2,
      dataDir: tempDir('mw-us-'),
      host: '127.0.0.1',
      port: 0,
      peers: [{ id: 'eu', url: `http://127.0.0.1:${euPort}` }],
      secret,
    },
    silentLogger(),
  )
  // eu has the smaller id, so it dials us: through the proxy, the partition's switch
  proxy = await FaultProxy.start({ targetPort: us.address.port })
  eu = await MailNode.start(
    {
      nodeId: 'eu',
      slot: 0,
      stride: 2,
      dataDir: tempDir('mw-eu-'),
      host: '127.0.0.1',
      port: euPort,
      peers: [{ id: 'us', url: `http://127.0.0.1:${proxy.port}` }],
      secret,
    },
    silentLogger(),
  )
  await eu.addUser('alice', 'wonderland')
  await waitFor(() => us.verifyUser('alice', 'wonderland'), 15_000, 'the user replicated to us', 50)
  const res = await fetch(`${eu.url}/api/token`, { method: 'POST', headers: { authorization: `Basic ${btoa('alice:wonderland')}` } })
  token = ((await res.json()) as { token: string }).token
  const outDir = tempDir('mw-example-')
  await buildExample({ outDir })
  const live: { controlUrl?: string } = {} // the control starts after the server (it needs the page's origin)
  server = await previewExample({
    outDir,
    config: () => ({
      regions: [
        { id: 'eu', url: eu.url },
        { id: 'us', url: us.url },
      ],
      cluster: 'browser-test',
      user: 'alice',
      password: 'wonderland',
      control: live.controlUrl,
    }),
  })
  // the page's Links panel talks to the same link control `pnpm start` serves, here over the one proxy
  control = await serveLinkControl(
    {
      links: () => [{ id: 'eu-us', a: 'eu', b: 'us', cut: proxy.isCut }],
      cut: () => proxy.cut(),
      heal: () => proxy.restore(),
      cutAll: () => proxy.cut(),
      healAll: () => proxy.restore(),
    },
    { port: 0, origins: [server.url] },
  )
  live.controlUrl = control.url
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await server?.close()
  await control?.close()
  await eu?.stop()
  await us?.stop()
  await proxy?.close()
  for (const d of tmp) rmSync(d, { recursive: true, force: true })
})

describe('browser-mailbox example in Chromium', () => {
  it('saves three messages and a flag offline, keeps them across a reload, and gets UIDs once online', async () => {
    const page = await browser.context.newPage()
    await signIn(page, 'eu')
    await setAppOnline(page, false)
    await browser.context.setOffline(true) // no network at all while composing
    for (const s of ['offline one', 'offline two', 'offline three']) await compose(page, s)
    const two = (await rows(page)).find((r) => r.subject === 'offline two')!
    await page.locator(`[data-guid="${two.guid}"]`).click()
    await page.getByTestId('flag-button').click()
    await waitFor(
      async () => (await rows(page)).find((r) => r.guid === two.guid)?.flags.includes('\\Flagged') === true,
      5000,
      'the flag in the list',
      20,
    )
    await waitFor(async () => (await status(page).getAttribute('data-pending-writes')) === '0', 5000, 'everything in IndexedDB', 20)
    const saved = await rows(page)
    expect(saved.map((r) => r.subject).sort()).toEqual(['offline one', 'offline three', 'offline two'])
    expect(saved.every((r) => r.uid === undefined)).toBe(true)
    expect(Number(await status(page).getAttribute('data-pending-uploads'))).toBe(3)

    // reload: the assets come from the server, the mailbox from IndexedDB (the app stays offline)
    await browser.context.setOffline(false)
    await page.reload()
    await waitFor(async () => (await rows(page)).length === 3, 10_000, 'three rows after the reload', 20)
    expect(await status(page).getAttribute('data-connection')).toBe('offline')
    const reloaded = await rows(page)
    expect(reloaded.map((r) => r.guid).sort()).toEqual(saved.map((r) => r.guid).sort())
    expect(reloaded.find((r) => r.guid === two.guid)!.flags).toContain('\\Flagged')
    const guids = saved.map((r) => r.guid)
    // nothing reached the node while offline
    expect((await api(eu, '/api/mailboxes/INBOX')).messages.filter((m: any) => guids.includes(m.guid))).toEqual([])

    await setAppOnline(page, true)
    await waitFor(async () => (await status(page).getAttribute('data-pending-uploads')) === '0', 15_000, 'uploads drained', 50)
    // the node (an exposure through its HTTP API, as an IMAP client would see it)
    await waitFor(
      async () => (await api(eu, '/api/mailboxes/INBOX')).messages.filter((m: any) => guids.includes(m.guid)).length === 3,
      15_000,
      'three UIDs at the node',
      50,
    )
    const view = await api(eu, '/api/mailboxes/INBOX')
    const mine = view.messages.filter((m: any) => guids.includes(m.guid))
    expect(mine.every((m: any) => Number.isInteger(m.uid) && m.uid > 0)).toBe(true)
    expect(new Set(mine.map((m: any) => m.uid)).size).toBe(3)
    expect(mine.find((m: any) => m.guid === two.guid).flags).toContain('\\Flagged')
    expect(mine.filter((m: any) => m.flags.includes('\\Flagged'))).toHaveLength(1)
    const body = new TextDecoder().decode(await api(eu, `/api/mailboxes/INBOX/messages/${two.guid}/raw`))
    expect(body).toContain('This is offline two.')
    // and the tab shows the UIDs the node gave
    await waitFor(async () => (await rows(page)).every((r) => r.uid !== undefined), 10_000, 'UIDs in the tab', 50)
    const shown = new Map((await rows(page)).map((r) => [r.guid, r.uid]))
    for (const m of mine) expect(shown.get(m.guid)).toBe(m.uid)
    await page.close()
  })

  it('two tabs on two regions converge after a partition heals, and the timeline shows it', async () => {
    const tabEu = await browser.context.newPage()
    const tabUs = await browser.context.newPage()
    await signIn(tabEu, 'eu')
    await signIn(tabUs, 'us')
    await waitFor(() => eu.peerStatus().every((p) => p.state === 'open'), 15_000, 'eu-us link up', 50)
    await waitFor(async () => (await rows(tabUs)).length === (await rows(tabEu)).length, 10_000, 'both tabs start equal', 50)

    proxy.cut()
    await waitFor(() => eu.peerStatus().every((p) => p.state !== 'open'), 15_000, 'eu-us link down', 20)
    for (let i = 1; i <= 2; i++) {
      await compose(tabEu, `eu during partition ${i}`)
      await compose(tabUs, `us during partition ${i}`)
    }
    // each region binds its own tab's appends (autoBind reads the mailbox at its node)
    await waitFor(
      async () => (await rows(tabEu)).every((r) => r.uid !== undefined) && (await rows(tabUs)).every((r) => r.uid !== undefined),
      15_000,
      'UIDs on both sides of the partition',
      50,
    )
    const euSide = await rows(tabEu)
    const usSide = await rows(tabUs)
    expect(euSide.some((r) => r.subject.startsWith('us during'))).toBe(false)
    expect(usSide.some((r) => r.subject.startsWith('eu during'))).toBe(false)
    expect(euSide.filter((r) => r.subject.startsWith('eu during')).every((r) => r.uid! % 2 === 0)).toBe(true)
    expect(usSide.filter((r) => r.subject.startsWith('us during')).every((r) => r.uid! % 2 === 1)).toBe(true)

    const healAt = performance.now()
    proxy.restore()
    const converged = async () => {
      const [a, b] = [await rows(tabEu), await rows(tabUs)]
      if (a.length !== b.length || a.some((r) => r.uid === undefined) || b.some((r) => r.uid === undefined)) return false
      const key = (rs: RowInfo[]) => JSON.stringify(rs.map((r) => [r.uid, r.guid]).sort((x, y) => Number(x[0]) - Number(y[0])))
      return key(a) === key(b) && a.filter((r) => r.subject.includes('during partition')).length === 4
    }
    await waitFor(converged, 30_000, 'both tabs show the same UIDs after the heal', 100)
    console.log(`browser tabs converged ${Math.round(performance.now() - healAt)} ms after the heal`)
    const final = await rows(tabEu)
    expect(new Set(final.map((r) => r.uid)).size).toBe(final.length) // S1/S2: no UID twice
    // C1 at the nodes too
    await waitFor(
      async () => {
        const [a, b] = [await api(eu, '/api/mailboxes/INBOX'), await api(us, '/api/mailboxes/INBOX')]
        return JSON.stringify(a.messages) === JSON.stringify(b.messages) && a.messages.length === final.length
      },
      15_000,
      'both nodes expose the same view',
      100,
    )
    const nodeView = new Map<string, number>((await api(eu, '/api/mailboxes/INBOX')).messages.map((m: any) => [m.guid, m.uid]))
    for (const r of final) expect(nodeView.get(r.guid)).toBe(r.uid)

    // the timeline: late arrivals from the other region (and the fixups after the heal)
    const late = await tabEu.locator('[data-testid=timeline] circle[stroke="#dc2626"]').count()
    expect(late).toBeGreaterThan(0)
    // us's first UID was below what eu had already shown: renumbered after the heal (rule 4)
    const before = new Map([...euSide, ...usSide].map((r) => [r.guid, r.uid]))
    const moved = final.find((r) => before.has(r.guid) && before.get(r.guid) !== r.uid)
    expect(moved).toBeDefined()
    await tabEu.locator(`[data-guid="${moved!.guid}"]`).click()
    await expect.poll(async () => tabEu.getByTestId('uid-history').locator('tbody tr').count(), { timeout: 5000 }).toBeGreaterThan(1)
    await tabEu.bringToFront()
    await tabEu.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))) // the last timeline render
    const box = await tabEu.getByTestId('timeline').boundingBox()
    expect(box).not.toBeNull()
    const png = await tabEu.screenshot({ clip: box! })
    mkdirSync(ARTIFACTS, { recursive: true })
    writeFileSync(join(ARTIFACTS, 'browser-timeline.png'), png)
    const img = PNG.sync.read(png)
    expect(img.width).toBeGreaterThan(400)
    let sum = 0
    let sumSq = 0
    const colours = new Set<number>()
    for (let i = 0; i < img.data.length; i += 4) {
      const l = 0.299 * img.data[i]! + 0.587 * img.data[i + 1]! + 0.114 * img.data[i + 2]!
      sum += l
      sumSq += l * l
      colours.add((img.data[i]! << 16) | (img.data[i + 1]! << 8) | img.data[i + 2]!)
    }
    const n = img.data.length / 4
    const variance = sumSq / n - (sum / n) ** 2
    expect(variance).toBeGreaterThan(50) // not blank
    expect(colours.size).toBeGreaterThan(20) // axes, labels, region colours, bands
    await tabEu.close()
    await tabUs.close()
  })

  it('fits a phone and a desktop (no sideways overflow, mailboxes and header in view), and cuts and heals the eu-us link from its Links panel', async () => {
    mkdirSync(ARTIFACTS, { recursive: true })
    for (const [name, viewport] of [
      ['phone', { width: 420, height: 860 }],
      ['desktop', { width: 1360, height: 900 }],
    ] as const) {
      const page = await browser.context.newPage()
      await page.setViewportSize(viewport)
      await signIn(page, 'eu')
      await waitFor(async () => (await page.getByTestId('link-eu-us').count()) === 1, 10_000, 'the Links panel', 50)
      // nothing wider than the screen; the mailbox list, the online switch and Sign out are on it
      expect(await page.evaluate(() => document.documentElement.scrollWidth), `${name}: page width`).toBeLessThanOrEqual(viewport.width)
      for (const el of [
        page.getByTestId('mailbox-INBOX'),
        page.getByTestId('online-label'),
        page.getByRole('button', { name: 'Sign out' }),
        page.getByTestId('link-eu-us'),
        page.getByTestId('status'),
      ]) {
        const box = await el.boundingBox()
        expect(box, `${name}: ${await el.textContent()} shown`).not.toBeNull()
        expect(box!.width).toBeGreaterThan(0)
        expect(box!.x, `${name}: ${await el.textContent()} inside the screen`).toBeGreaterThanOrEqual(0)
        expect(box!.x + box!.width).toBeLessThanOrEqual(viewport.width + 0.5)
      }
      expect(await page.getByTestId('online-label').textContent()).toBe('Online')
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))))
      writeFileSync(join(ARTIFACTS, `browser-${name}.png`), await page.screenshot({ fullPage: true }))
      if (name === 'phone') {
        // cut from the page: the proxy cuts, the nodes see the link go down, the panel says so; then heal
        await waitFor(() => eu.peerStatus().every((p) => p.state === 'open'), 15_000, 'eu-us link up', 50)
        await page.getByTestId('link-eu-us').click()
        await waitFor(
          async () => proxy.isCut && (await page.getByTestId('link-eu-us').getAttribute('data-cut')) === 'true',
          10_000,
          'link cut from the page',
          50,
        )
        await waitFor(() => eu.peerStatus().every((p) => p.state !== 'open'), 15_000, 'eu-us link down', 50)
        writeFileSync(join(ARTIFACTS, 'browser-phone-cut.png'), await page.screenshot({ fullPage: true }))
        await page.getByTestId('link-eu-us').click()
        await waitFor(
          async () => !proxy.isCut && (await page.getByTestId('link-eu-us').getAttribute('data-cut')) === 'false',
          10_000,
          'link healed from the page',
          50,
        )
        await waitFor(() => eu.peerStatus().every((p) => p.state === 'open'), 20_000, 'eu-us link up again', 50)
        // the switch says what it is
        await setAppOnline(page, false)
        expect(await page.getByTestId('online-label').textContent()).toBe('Offline')
        await setAppOnline(page, true)
      }
      await page.close()
    }
  })
})
