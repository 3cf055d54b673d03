// Accessibility: axe (WCAG 2.0 A and AA rules) finds no serious or critical violation on any
// page, at desktop and phone widths and in the dark colour scheme, and every page is screenshotted at both sizes for review
// (test-results/screenshots/). One more screenshot shows a campaign dashboard while real tabs
// train; with UPDATE_DOCS=1 it is also saved as docs/campaign-dashboard.png for the README.
import { mkdir } from 'node:fs/promises'
import AxeBuilder from '@axe-core/playwright'
import { expect, test, type Page } from '@playwright/test'
import { runSwarm } from '../src/cli/swarm-runner.ts'
import { startTrackerProcess, type TrackerProcess } from './tracker-process.ts'
import { injectTestWallet } from './test-wallet.ts'

const SHOTS = 'test-results/screenshots'
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const
/** The sizes and colour schemes each page is checked at (app.css has a dark palette of its own). */
const VARIANTS = [
  { name: 'desktop', viewport: VIEWPORTS.desktop, colorScheme: 'light' },
  { name: 'phone', viewport: VIEWPORTS.phone, colorScheme: 'light' },
  { name: 'desktop-dark', viewport: VIEWPORTS.desktop, colorScheme: 'dark' }
] as const

interface Found { page: string, viewport: string, rule: string, impact: string, help: string, targets: string[] }

/** Serious and critical axe violations on the page as it is now, one row per rule. */
async function seriousViolations (page: Page, name: string, viewport: string): Promise<Found[]> {
  const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa']).analyze()
  return violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({ page: name, viewport, rule: v.id, impact: v.impact ?? '', help: v.help, targets: v.nodes.map(n => n.target.join(' ')) }))
}

let tracker: TrackerProcess

test.beforeAll(async () => {
  tracker = await startTrackerProcess()
  await mkdir(SHOTS, { recursive: true })
  await mkdir('docs', { recursive: true })
})
test.afterAll(async () => { await tracker?.stop() })

test('every page: no serious or critical axe violations at desktop and phone width and in dark mode; screenshots of each', async ({ browser }) => {
  test.setTimeout(300_000)
  const demo = tracker.demoLink.slice(tracker.demoLink.indexOf('#'))
  // Each page with what shows it has finished loading (axe on a half-rendered page proves little).
  const pages: Array<{ name: string, hash: string, ready: (p: Page) => Promise<void>, wallet?: boolean }> = [
    { name: 'home', hash: '#/', ready: async p => { await expect(p.getByTestId('campaign-list')).toBeVisible() } },
    { name: 'new-campaign', hash: '#/new', ready: async p => { await expect(p.getByRole('heading', { level: 1 })).toBeVisible() } },
    { name: 'ownership-no-wallet', hash: '#/me', ready: async p => { await expect(p.getByTestId('no-wallet')).toBeVisible({ timeout: 30_000 }); await expect(p.getByTestId('campaign-credit').first()).toBeVisible() } },
    { name: 'ownership-wallet', hash: '#/me', wallet: true, ready: async p => { await expect(p.getByTestId('connect-wallet')).toBeVisible({ timeout: 30_000 }); await expect(p.getByTestId('campaign-credit').first()).toBeVisible() } },
    { name: 'campaign', hash: demo, ready: async p => { await expect(p.getByTestId('preflight')).toBeVisible({ timeout: 60_000 }) } },
    { name: 'not-found', hash: '#/no-such-page', ready: async p => { await expect(p.getByRole('heading', { name: 'Page not found' })).toBeVisible() } }
  ]
  const found: Found[] = []
  for (const { name: viewport, viewport: size, colorScheme } of VARIANTS) {
    for (const { name, hash, ready, wallet } of pages) {
      const context = await browser.newContext({ viewport: size, colorScheme })
      if (wallet === true) await injectTestWallet(context)
      const page = await context.newPage()
      await page.goto(`${tracker.url}/${hash}`)
      await ready(page)
      await page.screenshot({ path: `${SHOTS}/${name}-${viewport}.png`, fullPage: true })
      found.push(...await seriousViolations(page, name, viewport))
      await context.close()
    }
  }
  for (const f of found) console.log(`axe ${f.impact}: ${f.page} (${f.viewport}) ${f.rule}: ${f.help} — ${f.targets.join(', ')}`)
  expect(found).toEqual([])
})

test('the campaign dashboard while two tabs train: screenshot for the README', async () => {
  test.setTimeout(500_000)
  let tab0: Page | undefined
  let shot: Promise<unknown> | undefined
  const run = await runSwarm({
    tabs: 2,
    stages: 2,
    steps: 7,
    keepOpen: true,
    preparePage: async (page, tab) => {
      await page.setViewportSize(VIEWPORTS.desktop)
      if (tab === 0) tab0 = page
    },
    // The runner logs each new swarm status; once a few steps are done the loss chart has a line.
    log: line => {
      const step = /^step (\d+)\//.exec(line)
      if (shot == null && tab0 != null && step != null && Number(step[1]) >= 5) {
        const page = tab0
        shot = (async () => {
          // The README's picture is refreshed only when asked (UPDATE_DOCS=1), so test runs leave the tree clean.
          if (process.env.UPDATE_DOCS === '1') await page.screenshot({ path: 'docs/campaign-dashboard.png', fullPage: true })
          await page.screenshot({ path: `${SHOTS}/campaign-dashboard-desktop.png`, fullPage: true })
          await page.setViewportSize(VIEWPORTS.phone)
          await page.screenshot({ path: `${SHOTS}/campaign-dashboard-phone.png`, fullPage: true })
          await page.setViewportSize(VIEWPORTS.desktop)
          return await seriousViolations(page, 'campaign-dashboard', 'desktop')
        })()
      }
    }
  })
  try {
    expect(shot).toBeDefined()
    const found = await shot as Found[]
    // Reported, not asserted: the dashboard changes every second while training.
    for (const f of found) console.log(`axe ${f.impact}: ${f.page} (${f.viewport}) ${f.rule}: ${f.help} — ${f.targets.join(', ')}`)
    await expect(run.pages[0].getByTestId('tab-dashboard')).toBeVisible()
  } finally {
    await run.close()
  }
})
