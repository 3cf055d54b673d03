// The researcher's path end to end: create a campaign in the form, share the link, three
// volunteers open it and start, and the researcher's own campaign page shows them on its stage map.
import { expect, test } from '@playwright/test'
import { startTrackerProcess, type TrackerProcess } from './tracker-process.ts'
import { injectTestWallet } from './test-wallet.ts'

let tracker: TrackerProcess

test.beforeAll(async () => { tracker = await startTrackerProcess() })
test.afterAll(async () => { await tracker.stop() })

test('create → share → three volunteers join → the researcher sees them on the stage map', async ({ browser }) => {
  test.setTimeout(300_000)
  const researcher = await (await browser.newContext()).newPage()
  // The researcher signs in with their wallet on #/me first: creating a campaign needs it.
  const wallet = await injectTestWallet(researcher)
  await researcher.goto(`${tracker.url}/#/me`)
  await researcher.getByRole('radio', { name: 'Test Wallet' }).check()
  await researcher.getByTestId('connect-wallet').click()
  await researcher.getByTestId('sign-in').click()
  await expect(researcher.getByTestId('bound-address')).toHaveText(wallet.address)
  await researcher.goto(`${tracker.url}/#/new`)
  await expect(researcher.getByTestId('sign-in-notice')).toContainText(wallet.address)
  await expect(researcher.getByLabel('Dataset name')).not.toHaveValue('')
  await researcher.getByLabel('Campaign name').fill(`Researcher path ${Date.now()}`)
  await researcher.getByLabel('Preset').selectOption('tiny')
  await researcher.getByLabel('Pipeline stages').fill('2')
  await researcher.getByTestId('create').click()
  const link = await researcher.getByTestId('share-link').inputValue()
  const id = /#\/c\/([0-9a-f]{32})\?key=[0-9a-f]{32}$/.exec(link)![1] // pinned: campaign/share-link.ts

  // The researcher watches the campaign page.
  await researcher.goto(link)
  const map = researcher.getByTestId('stage-map')
  await expect(map).toBeVisible()
  await expect(researcher.locator('[data-testid="stage-column"][data-replicas="0"]')).toHaveCount(2)

  const volunteers = []
  for (let i = 0; i < 3; i++) {
    const page = await (await browser.newContext()).newPage()
    await page.goto(link)
    await page.getByTestId('start').click()
    await expect(page.getByTestId('my-stage')).toHaveAttribute('data-stage', /^[01]$/, { timeout: 120_000 })
    volunteers.push(page)
  }
  const stages = await Promise.all(volunteers.map(async p => Number(await p.getByTestId('my-stage').getAttribute('data-stage'))))
  expect(new Set(stages)).toEqual(new Set([0, 1])) // both stages covered

  // The researcher's page updates by itself: three volunteers over two stages, training under way.
  const replicas = async (s: number): Promise<number> => Number(await researcher.locator(`[data-testid="stage-column"][data-stage="${s}"]`).getAttribute('data-replicas'))
  await expect.poll(async () => await replicas(0) + await replicas(1), { timeout: 60_000 }).toBe(3)
  await expect(researcher.getByRole('img', { name: /Training loss: [1-9]\d* points/ })).toBeVisible({ timeout: 180_000 })
  const status = await (await fetch(`${tracker.url}/api/campaigns/${id}`)).json() as { status: { volunteers: number } }
  expect(status.status.volunteers).toBe(3)
})
