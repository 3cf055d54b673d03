// Ownership end to end: two real tabs train a campaign, then the volunteer of tab 0 opens #/me in
// the same browser (same IndexedDB, so the same libp2p key and PeerId), signs in with a real
// private-key wallet, and sees its share, its ledger records with proofs verified in the page,
// and exports them.
import { mkdir, readFile } from 'node:fs/promises'
import AxeBuilder from '@axe-core/playwright'
import { expect, test } from '@playwright/test'
import { Wallet } from 'ethers'
import { runSwarm } from '../src/cli/swarm-runner.ts'
import { trackerKeyPin, verifyEpochRoot, verifyInclusion } from '../src/ledger/merkle.ts'
import { injectTestWallet, type TestWallet } from './test-wallet.ts'
import { startTrackerProcess } from './tracker-process.ts'

test('a training tab signs in on #/me: its share moves to the address, its proofs verify in the browser, and the export holds them', async () => {
  test.setTimeout(500_000)
  let wallet: TestWallet | undefined
  // The wallet goes into tab 0's whole context, so the #/me page opened there later has it too.
  const run = await runSwarm({
    tabs: 2,
    stages: 2,
    steps: 3,
    keepOpen: true,
    preparePage: async (page, tab) => { if (tab === 0) wallet = await injectTestWallet(page.context()) }
  })
  try {
    const w = wallet!
    const url = run.tracker.url
    const getJson = async (path: string): Promise<any> => await (await fetch(url + path)).json()
    const peerId = run.report.tabs[0].peerId
    expect(peerId).toMatch(/^12D3KooW/)

    const page = await run.pages[0].context().newPage()
    const errors: string[] = []
    page.on('pageerror', err => errors.push(err.message))
    await page.goto(`${url}/#/me`)
    // Same context, same IndexedDB key: the page knows the training tab's PeerId without joining.
    await expect(page.getByTestId('my-peer-id')).toHaveText(peerId)

    // Before sign-in the credit is the PeerId's own.
    const card = page.locator(`[data-testid="campaign-credit"][data-campaign="${run.campaignId}"]`)
    const share = card.getByTestId('share')
    await expect(share).not.toHaveAttribute('data-share', '0', { timeout: 60_000 })
    const before = (await getJson(`/api/campaigns/${run.campaignId}/ownership`)).holders.find((h: { address: string }) => h.address === peerId)
    expect(Number(await share.getAttribute('data-share'))).toBeCloseTo(before.share, 12)

    // Pick the announced wallet, connect, sign in.
    await page.getByRole('radio', { name: 'Test Wallet' }).check()
    await page.getByTestId('connect-wallet').click()
    await expect(page.getByTestId('wallet-account')).toHaveText(w.address)
    await expect(page.getByTestId('sign-in')).toBeFocused() // the next step, for keyboard users
    await page.getByTestId('sign-in').click()
    await expect(page.getByTestId('bound-address')).toHaveText(w.address)
    await expect(page.getByTestId('binding-confirmed')).toBeVisible()
    expect(w.signed).toHaveLength(1)
    expect(w.signed[0]).toContain(`- libp2p:${peerId}`)
    expect((await getJson(`/api/identity/${w.address}`)).peerIds).toEqual([peerId])

    // The address now holds the PeerId's share, as the tracker computes it.
    const own = await getJson(`/api/campaigns/${run.campaignId}/ownership`)
    const holder = own.holders.find((h: { address: string }) => h.address === w.address)
    expect(holder.share).toBeGreaterThan(0)
    expect(holder.flops).toBe(before.flops)
    await expect(share).toHaveAttribute('data-share', String(holder.share))
    await expect(card.getByTestId('flops')).toHaveAttribute('data-flops', String(holder.flops))

    // Every ledger record crediting this tab is listed, and each proof verified in the page.
    const ledger = await getJson(`/api/campaigns/${run.campaignId}/ledger?limit=500`)
    const mine = ledger.entries.filter((r: any) => r.entry.credits.some((c: { peerId: string }) => c.peerId === peerId))
    expect(mine.length).toBeGreaterThan(0)
    const summary = card.getByTestId('proof-summary')
    await expect(summary).toHaveAttribute('data-records', String(mine.length))
    await expect(summary).toHaveAttribute('data-verified', String(mine.length), { timeout: 60_000 })
    await expect(summary).toHaveAttribute('data-failed', '0')
    await expect(card.locator('[data-testid="credited-record"][data-status="verified"]').first()).toContainText('verified')
    // The tab opened the campaign by its share link, which pinned the tracker's key: the proofs
    // above were checked against that key, not the one the server presents.
    const link = `${url}/#/c/${run.campaignId}?key=${trackerKeyPin(run.tracker.relay.peerId.toString())}`
    await expect(card.getByTestId('tracker-key')).toHaveAttribute('data-status', 'matches')

    // The training tab kept every receipt it signed or countersigned: each of its hops in the
    // ledger is matched (by signature) with one it kept, and none is reported missing.
    const hopsInLedger = ledger.entries.flatMap((r: any) => r.entry.receipts).filter((x: any) => x.receipt.from === peerId || x.receipt.to === peerId).length
    expect(hopsInLedger).toBeGreaterThan(0)
    const kept = card.getByTestId('kept-receipts')
    await expect(kept).toHaveAttribute('data-in-ledger', String(hopsInLedger))
    expect(Number(await kept.getAttribute('data-total'))).toBeGreaterThanOrEqual(hopsInLedger)
    await expect(kept).toHaveAttribute('data-missing', '0')
    await expect(kept).toContainText(/Your receipts: \d+ · in the ledger: \d+ · missing: 0/)

    // The export: every record with its signed receipts, proof and signed epoch root, which
    // check out here in Node too.
    const [download] = await Promise.all([page.waitForEvent('download'), card.getByTestId('export-receipts').click()])
    expect(download.suggestedFilename()).toMatch(/\.json$/)
    const exported = JSON.parse(await readFile((await download.path())!, 'utf8'))
    expect(exported).toMatchObject({ format: 'tabgrad-receipts/1', campaign: run.campaignId, peerId, address: w.address, tracker: run.tracker.relay.peerId.toString(), pin: trackerKeyPin(run.tracker.relay.peerId.toString()) })
    expect(exported.records).toHaveLength(mine.length)
    for (const r of exported.records) {
      expect(r.status).toBe('verified')
      expect(r.record.entry.receipts.length).toBeGreaterThan(0)
      expect(r.record.entry.credits.map((c: { peerId: string }) => c.peerId)).toContain(peerId)
      expect(await verifyEpochRoot(r.epoch, exported.tracker)).toBe(true)
      expect(verifyInclusion(r.record.hash, r.proof, r.epoch)).toBe(true)
    }

    // The signed-in page with its proof table passes axe too (accessibility.spec.ts covers the rest).
    const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa']).analyze()
    expect(violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)).toEqual([])
    await mkdir('test-results/screenshots', { recursive: true })
    await page.screenshot({ path: 'test-results/screenshots/ownership-signed-in-desktop.png', fullPage: true })

    // A reload shows the kept sign-in without asking the wallet again.
    await page.reload()
    await expect(page.getByTestId('bound-address')).toHaveText(w.address)
    await expect(page.getByTestId('binding-confirmed')).toBeVisible()
    expect(w.signed).toHaveLength(1)

    // A link whose pin names another key: the campaign page says the tracker's key does not
    // match, and #/me refuses every root this tracker signed.
    const tampered = link.replace(/key=([0-9a-f])/, (_, c: string) => `key=${c === '0' ? '1' : '0'}`)
    expect(tampered).not.toBe(link)
    await page.goto(tampered)
    await expect(page.getByTestId('tracker-key')).toHaveAttribute('data-status', 'mismatch')
    await expect(page.getByTestId('tracker-key')).toContainText("This tracker's key does not match the one in your link")
    await page.goto(`${url}/#/me`)
    await expect(card.getByTestId('tracker-key')).toHaveAttribute('data-status', 'mismatch')
    await expect(summary).toHaveAttribute('data-failed', String(mine.length), { timeout: 60_000 })
    await expect(summary).toHaveAttribute('data-verified', '0')
    await expect(card.locator('[data-testid="credited-record"][data-status="failed"]').first()).toContainText('not signed by the tracker key in your link')
    expect(errors).toEqual([])
  } finally {
    await run.close()
  }
})

test('a wallet that declines: the page says so, nothing is bound, and the tab can try again; a kept sign-in the tracker forgot is not shown', async ({ browser }) => {
  const tracker = await startTrackerProcess()
  try {
    const context = await browser.newContext()
    const wallet = await injectTestWallet(context, { reject: true, name: 'Grumpy Wallet' })
    const page = await context.newPage()
    await page.goto(`${tracker.url}/#/me`)
    await page.getByRole('radio', { name: 'Grumpy Wallet' }).check()
    await page.getByTestId('connect-wallet').click()
    await expect(page.getByRole('alert')).toContainText('declined in the wallet')
    await expect(page.getByTestId('connect-wallet')).toBeEnabled()
    await expect(page.getByTestId('bound-address')).toHaveCount(0)
    expect(wallet.signed).toEqual([])
    expect((await (await fetch(`${tracker.url}/api/identity/${wallet.address}`)).json()).peerIds).toEqual([])

    // A kept sign-in the tracker does not know (its data was reset) is not shown as signed in.
    const peerId = (await page.getByTestId('my-peer-id').textContent())!.trim()
    const stale = Wallet.createRandom().address
    await page.evaluate(async ({ address, peerId }) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open('tabgrad')
        req.onsuccess = () => resolve(req.result)
        req.onerror = () => reject(req.error)
      })
      await new Promise<void>((resolve, reject) => {
        const tx = db.transaction('kv', 'readwrite')
        tx.objectStore('kv').put({ address, peerId, at: Date.now() }, 'siwe-sign-in')
        tx.oncomplete = () => resolve()
        tx.onerror = () => reject(tx.error)
      })
      db.close()
    }, { address: stale, peerId })
    await page.reload()
    await expect(page.getByTestId('identity-notice')).toContainText(stale)
    await expect(page.getByTestId('bound-address')).toHaveCount(0)
    await expect(page.getByTestId('connect-wallet')).toBeVisible()
    await context.close()
  } finally {
    await tracker.stop()
  }
})
