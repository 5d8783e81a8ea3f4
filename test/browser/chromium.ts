import { chromium, type Browser, type BrowserContext } from 'playwright-core'

/** Debian's Chromium (installed by .ci/system-deps). */
export const CHROMIUM = process.env.MAILWEAVE_CHROMIUM ?? '/usr/bin/chromium'
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]
/** Tabs in the background keep full-speed timers and animation frames (two tabs work at once in tests). */
export const NO_THROTTLING_ARGS = [
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
]

/**
 * A headless Chromium and one context. Playwright starts the browser with a fresh
 * temporary user-data-dir and removes it on close (launchPersistentContext with an own
 * directory works too, but starts twice as slowly here).
 */
export async function launchChromium(): Promise<{ browser: Browser; context: BrowserContext; close(): Promise<void> }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...NO_THROTTLING_ARGS] })
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } })
  return {
    browser,
    context,
    close: async () => {
      await context.close().catch(() => undefined)
      await browser.close().catch(() => undefined)
    },
  }
}
