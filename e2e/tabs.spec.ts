// A volunteer's tabs in real life, in ONE browser context (one profile, one IndexedDB), as the
// README tells people to open the demo: two pages that train together on different stages, a
// hidden page, a reload, a lost GPU device, going offline and back, navigating between campaigns,
// and leaving. One real tracker process, real WebRTC with the browser's default mDNS hiding of
// local addresses, SwiftShader WebGPU in each page's worker. The cases share one swarm, in order,
// because starting one costs minutes on 2 cores.
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test'
import { chromium } from 'playwright'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../src/chromium.ts'
import { demoManifest } from '../src/campaign/demo.ts'
import type { SwarmStatus } from '../src/tracker/swarm/coordinator.ts'
import { injectTestWallet } from './test-wallet.ts'
import { startTrackerProcess, type TrackerProcess } from './tracker-process.ts'

test.describe.configure({ mode: 'serial' })

let tracker: TrackerProcess
let browser: Browser
let context: BrowserContext
/** Two pages of the one context: p joins first (stage 0), q second (stage 1). */
let p: Page
let q: Page
let c1: string
let c2: string
const errors: string[] = []

const status = async (campaign: string): Promise<SwarmStatus> => await (await fetch(`${tracker.url}/api/campaigns/${campaign}/swarm`)).json() as SwarmStatus
const peersOf = (s: SwarmStatus): string[] => s.stages.flatMap(st => st.replicas.map(r => r.peerId))
const completed = async (campaign: string): Promise<number> => (await status(campaign)).microbatches.completed
const peerOf = async (page: Page): Promise<string> => (await page.getByTestId('tab-dashboard').getAttribute('data-peer')) ?? ''
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function until<T> (what: string, probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: T | undefined
  while (Date.now() < end) {
    last = await probe()
    if (ok(last)) return last
    await sleep(500)
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`)
}

async function createCampaign (name: string, stages: number): Promise<string> {
  const corpus = await readFile('dist/datasets/sotu-excerpt.txt')
  const m = demoManifest(createHash('sha256').update(corpus).digest('hex'), corpus.length)
  m.name = name
  m.stages = stages
  m.training.steps = 10_000
  m.training.accumulation = 2
  // As the operator, with the admin token the tracker printed.
  const res = await fetch(`${tracker.url}/api/campaigns`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tracker.adminToken}` }, body: JSON.stringify(m) })
  const body = await res.json() as { id?: string, error?: string }
  if (body.id == null) throw new Error(`campaign rejected: ${body.error}`)
  return body.id
}

/** This page's checkpoint record for `campaign`, read from IndexedDB the way the app stores it, with a SHA-256 of the weights. */
async function checkpointOf (page: Page, campaign: string): Promise<{ step: number, savedAt: number, active: boolean, stage: number, digest: string } | null> {
  return await page.evaluate(async campaign => {
    const slot = Number(sessionStorage.getItem('tabgrad-tab-slot'))
    const key = slot === 0 ? `swarm:${campaign}` : `swarm:${campaign}:tab${slot}`
    const db = await new Promise<IDBDatabase>((resolve, reject) => { const r = indexedDB.open('tabgrad'); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error) })
    const rec = await new Promise<any>((resolve, reject) => { const r = db.transaction('kv').objectStore('kv').get(key); r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error) })
    db.close()
    if (rec?.checkpoint == null) return rec == null ? null : { step: -1, savedAt: 0, active: rec.active, stage: rec.stage, digest: '' }
    const w = rec.checkpoint.params as Float32Array
    const d = await crypto.subtle.digest('SHA-256', new Uint8Array(w.buffer as ArrayBuffer, w.byteOffset, w.byteLength))
    return { step: rec.checkpoint.step, savedAt: rec.savedAt, active: rec.active, stage: rec.stage, digest: [...new Uint8Array(d)].map(b => b.toString(16).padStart(2, '0')).join('') }
  }, campaign)
}

/**
 * Emulates hiding or showing the page as its scripts see it: `document.visibilityState`,
 * `document.hidden` and the `visibilitychange` event. That covers everything the app decides
 * from visibility (the "pause while hidden" setting, the Wake Lock). It does not cover Chrome's
 * own background throttling of main-thread timers: headless Chromium never hides a page (no CDP
 * call or window state makes it hidden, checked with Browser.setWindowBounds 'minimized' and
 * Target.createTarget background), so that part is handled by design instead: the training
 * loop's waits run on a worker's timers, which browsers do not throttle.
 */
async function emulateHidden (page: Page, hidden: boolean): Promise<void> {
  await page.evaluate(hidden => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => hidden ? 'hidden' : 'visible' })
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden })
    document.dispatchEvent(new Event('visibilitychange'))
  }, hidden)
}

async function openPage (name: string): Promise<Page> {
  const page = await context.newPage()
  page.on('pageerror', err => errors.push(`${name}: ${err.message}`))
  page.on('console', msg => { if (msg.type() === 'error') errors.push(`${name} console: ${msg.text()}`) })
  return page
}

test.beforeAll(async () => {
  tracker = await startTrackerProcess()
  c1 = await createCampaign('Tabs: two stages', 2)
  c2 = await createCampaign('Tabs: one stage', 1)
  // The browser's default WebRTC settings (mDNS hiding of local IPs on): these tabs share one machine.
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS.filter(a => !a.includes('WebRtcHideLocalIpsWithMdns')), headless: true })
  context = await browser.newContext()
})

test.afterAll(async () => {
  await browser?.close()
  await tracker?.stop()
})

test('two pages of one browser context get their own PeerIds, join different stages and train together; a third is capped', async () => {
  test.setTimeout(300_000)
  p = await openPage('p')
  q = await openPage('q')
  await p.goto(`${tracker.url}/#/c/${c1}`)
  await p.getByTestId('start').click({ timeout: 120_000 })
  await expect(p.getByTestId('my-stage')).toHaveAttribute('data-stage', '0', { timeout: 120_000 })
  await q.goto(`${tracker.url}/#/c/${c1}`)
  await q.getByTestId('start').click({ timeout: 120_000 })
  await expect(q.getByTestId('my-stage')).toHaveAttribute('data-stage', '1', { timeout: 120_000 })
  const [pp, qp] = [await peerOf(p), await peerOf(q)]
  expect(pp).toMatch(/^12D3KooW/)
  expect(qp).toMatch(/^12D3KooW/)
  expect(pp).not.toBe(qp)
  await until('both tabs to train', async () => await completed(c1), n => n >= 4, 180_000)
  // Each page lists this browser's tabs together.
  await expect(p.getByTestId('browser-tab')).toHaveCount(2)
  await expect(p.locator(`[data-testid="browser-tab"][data-peer="${qp}"]`)).toHaveAttribute('data-stage', '1')
  // The title and favicon show the status to a volunteer looking at another tab.
  await expect(p).toHaveTitle(/^▶ stage 1, step \d+/)
  expect(await p.locator('link[rel="icon"]').getAttribute('data-status')).toBe('working')

  // A cap of 2 contributing tabs: a third page of this browser offers to take over instead of joining.
  await p.getByTestId('max-tabs').selectOption('2')
  const r = await openPage('r')
  await r.goto(`${tracker.url}/#/c/${c1}`)
  await r.getByTestId('start').click({ timeout: 120_000 })
  await expect(r.getByTestId('cap-reached')).toBeVisible()
  await expect(r.getByTestId('take-over')).toBeVisible()
  await r.close()
  await p.getByTestId('max-tabs').selectOption('4')
  expect(peersOf(await status(c1)).sort()).toEqual([pp, qp].sort())
})

test('one wallet sign-in binds every tab of the browser: one wallet prompt, both training PeerIds bound', async () => {
  test.setTimeout(120_000)
  const [pp, qp] = [await peerOf(p), await peerOf(q)]
  const me = await openPage('me')
  const wallet = await injectTestWallet(me)
  await me.goto(`${tracker.url}/#/me`)
  await me.getByRole('radio', { name: 'Test Wallet' }).check()
  await me.getByTestId('connect-wallet').click()
  await me.getByTestId('sign-in').click()
  await expect(me.getByTestId('bound-address')).toHaveText(wallet.address)
  // The wallet was asked once, for a message naming both training tabs.
  expect(wallet.signed).toHaveLength(1)
  expect(wallet.signed[0]).toContain(`- libp2p:${pp}`)
  expect(wallet.signed[0]).toContain(`- libp2p:${qp}`)
  const bound = await (await fetch(`${tracker.url}/api/identity/${wallet.address}`)).json() as { peerIds: string[] }
  expect(bound.peerIds).toEqual(expect.arrayContaining([pp, qp]))
  // Both tabs' credit now goes to the address.
  await until('the address to hold both tabs\' credit', async () => await (await fetch(`${tracker.url}/api/campaigns/${c1}/ownership`)).json() as { holders: Array<{ address: string }> },
    o => o.holders.some(h => h.address === wallet.address) && !o.holders.some(h => h.address === pp || h.address === qp), 30_000)
  await me.close()
})

test('a hidden page (emulated) keeps its microbatch rate within 20% of a visible one; "pause while hidden" pauses it', async () => {
  test.setTimeout(240_000)
  // Windows in the order visible, hidden, hidden, visible, so a drift in the machine's other
  // load falls on both sides alike.
  const rate = { visible: 0, hidden: 0 }
  for (const hidden of [false, true, true, false]) {
    await emulateHidden(p, hidden)
    await emulateHidden(q, hidden)
    const n0 = await completed(c1)
    await sleep(20_000)
    rate[hidden ? 'hidden' : 'visible'] += (await completed(c1)) - n0
  }
  // Leave both hidden for the setting's check below.
  await emulateHidden(p, true)
  await emulateHidden(q, true)
  console.log(`microbatches in 2 × 20 s: visible ${rate.visible}, hidden ${rate.hidden}`)
  expect(rate.visible).toBeGreaterThan(0)
  expect(rate.hidden).toBeGreaterThanOrEqual(0.8 * rate.visible)
  await expect(q.getByTestId('swarm-phase')).toHaveText('running')

  // With the setting on, hiding pauses the tab, and showing it again resumes by itself.
  await q.getByTestId('pause-hidden').check()
  await expect(q.getByTestId('auto-paused')).toContainText('hidden')
  await expect(q.getByTestId('swarm-phase')).toHaveText('paused')
  await emulateHidden(q, false)
  await emulateHidden(p, false)
  await expect(q.getByTestId('swarm-phase')).toHaveText('running')
  await q.getByTestId('pause-hidden').uncheck()
})

test('a reload resumes the same identity, stage and weights', async () => {
  test.setTimeout(300_000)
  const qp = await peerOf(q)
  // Stop the flow so the weights hold still: stage 0 stops leasing, the last microbatches finish.
  await p.getByRole('button', { name: 'Pause' }).click()
  await until('no microbatch in flight', async () => (await status(c1)).microbatches.in_flight, n => n === 0)
  await sleep(3000)
  const t0 = Date.now()
  await q.getByRole('button', { name: 'Pause' }).click()
  const before = await until('a checkpoint saved on pause', async () => await checkpointOf(q, c1), c => c != null && c.savedAt >= t0)
  expect(before!.digest).toMatch(/^[0-9a-f]{64}$/)
  expect(before!.active).toBe(true)

  const t1 = Date.now()
  await q.reload()
  // No click: the page rejoins by itself, as the same PeerId, on the same stage, from its checkpoint.
  await expect(q.getByTestId('swarm-phase')).toHaveText('running', { timeout: 180_000 })
  await expect(q.getByTestId('tab-dashboard')).toHaveAttribute('data-peer', qp)
  await expect(q.getByTestId('my-stage')).toHaveAttribute('data-stage', '1')
  await expect(q.getByTestId('resumed')).toBeVisible()
  // The reloaded worker's weights, exported and saved again as it starts, are the ones saved before.
  const after = await until('a checkpoint saved after the reload', async () => await checkpointOf(q, c1), c => c != null && c.savedAt >= t1)
  expect(after!.step).toBe(before!.step)
  expect(after!.digest).toBe(before!.digest)

  await p.getByRole('button', { name: 'Resume' }).click()
  const n0 = await completed(c1)
  await until('training to go on after the reload', async () => await completed(c1), n => n >= n0 + 4, 180_000)
})

test('destroying the worker\'s GPUDevice mid-run: the tab rebuilds its stage, rejoins, and no microbatch is lost', async () => {
  test.setTimeout(300_000)
  const worker = q.workers().find(w => w.url().includes('compute'))
  expect(worker, 'the compute worker').toBeDefined()
  const n0 = await completed(c1)
  // Test-only, injected from here into the running worker: nothing of it ships in the bundle.
  // The next command encoder the worker asks for destroys its device first, mid-run.
  await worker!.evaluate(() => {
    const proto = GPUDevice.prototype
    const create = proto.createCommandEncoder
    proto.createCommandEncoder = function (this: GPUDevice, ...args: Parameters<GPUDevice['createCommandEncoder']>) {
      proto.createCommandEncoder = create
      this.destroy()
      return create.apply(this, args)
    }
  })
  await expect(q.getByTestId('swarm-notice')).toContainText('GPU device was lost', { timeout: 60_000 })
  await expect(q.getByTestId('swarm-notice')).toContainText('Recovered from a lost GPU device', { timeout: 180_000 })
  await expect(q.getByTestId('my-stage')).toHaveAttribute('data-stage', '1')
  await until('training to go on after the device loss', async () => await completed(c1), n => n >= n0 + 4, 240_000)
  const s = await status(c1)
  expect(s.microbatches.lost).toBe(0)
})

test('offline and back: the tabs pause themselves, say so, and resume without a reload', async () => {
  test.setTimeout(240_000)
  await context.setOffline(true)
  await expect(q.getByTestId('auto-paused')).toContainText('Offline')
  await expect(p.getByTestId('auto-paused')).toContainText('Offline')
  await expect(p.getByTestId('swarm-phase')).toHaveText('paused')
  await sleep(5000)
  await context.setOffline(false)
  await expect(p.getByTestId('swarm-phase')).toHaveText('running', { timeout: 60_000 })
  await expect(q.getByTestId('swarm-phase')).toHaveText('running', { timeout: 60_000 })
  const n0 = await completed(c1)
  await until('training to resume after going online', async () => await completed(c1), n => n >= n0 + 4, 180_000)
})

test('navigating A → B → A runs one campaign at a time, hands A\'s leases back, and raises no handler errors', async () => {
  test.setTimeout(300_000)
  const pp = await peerOf(p)
  await p.evaluate(id => { location.hash = `#/c/${id}` }, c2)
  await expect(p.getByTestId('campaign-title')).toHaveAttribute('data-campaign', c2)
  // A's runtime stopped: the tracker no longer lists the tab and none of its leases is outstanding.
  await until('A to let the tab go', async () => await status(c1), s => !peersOf(s).includes(pp) && s.microbatches.in_flight === 0, 30_000)
  await p.getByTestId('start').click({ timeout: 60_000 })
  await until('B to train', async () => await completed(c2), n => n >= 2, 180_000)

  const n0 = await completed(c1)
  await p.evaluate(id => { location.hash = `#/c/${id}` }, c1)
  await expect(p.getByTestId('campaign-title')).toHaveAttribute('data-campaign', c1)
  // Back on A it resumes by itself (it was contributing there); B lets it go.
  await until('B to let the tab go', async () => await status(c2), s => !peersOf(s).includes(pp) && s.microbatches.in_flight === 0, 30_000)
  await expect(p.getByTestId('my-stage')).toHaveAttribute('data-stage', '0', { timeout: 120_000 })
  await until('A to train again', async () => await completed(c1), n => n >= n0 + 4, 180_000)
  expect(errors.filter(e => /DuplicateProtocolHandler/.test(e))).toEqual([])
})

test('closing a page that holds leases hands them back at once (not after the lease timeout)', async () => {
  test.setTimeout(120_000)
  const pp = await peerOf(p)
  await until('stage 0 to hold leases', async () => (await status(c1)).microbatches.in_flight, n => n > 0, 60_000)
  await p.close()
  // Leases time out after 2 minutes; the page's pagehide hand-back frees them within seconds.
  await until('the leases to come back', async () => await status(c1), s => s.microbatches.in_flight === 0 && !peersOf(s).includes(pp), 10_000)
})

test('leave, then reload: the tab does not rejoin; nothing was lost', async () => {
  test.setTimeout(180_000)
  const qp = await peerOf(q)
  await q.getByTestId('leave').click()
  await expect(q.getByTestId('tab-dashboard')).toHaveAttribute('data-phase', 'left')
  expect((await checkpointOf(q, c1))?.active).toBe(false)
  await q.reload()
  await expect(q.getByTestId('start')).toBeVisible({ timeout: 60_000 })
  await sleep(8000)
  await expect(q.getByTestId('tab-dashboard')).toHaveCount(0)
  expect(peersOf(await status(c1))).not.toContain(qp)
  expect((await checkpointOf(q, c1))?.active).toBe(false)
  expect((await status(c1)).microbatches.lost).toBe(0)
  expect(errors.filter(e => /DuplicateProtocolHandler/.test(e))).toEqual([])
})
