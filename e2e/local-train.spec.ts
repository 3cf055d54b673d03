// "Train locally": one tab trains a campaign's whole model (the demo's, with a held-out split), the
// training and validation losses fall on the page's chart, and the trained model samples text.
import { expect, test } from '@playwright/test'
import { startTrackerProcess, type TrackerProcess } from './tracker-process.ts'

let tracker: TrackerProcess

test.beforeAll(async () => { tracker = await startTrackerProcess() })
test.afterAll(async () => { await tracker.stop() })

test('a single tab trains the whole model locally: the loss falls and it samples text', async ({ page }) => {
  test.setTimeout(300_000)
  // The demo campaign with its last 8,192 bytes held out, created as the operator would.
  const demoId = /#\/c\/([0-9a-f]{32})/.exec(tracker.demoLink)![1]
  const { manifest } = await (await fetch(`${tracker.url}/api/campaigns/${demoId}`)).json() as { manifest: { name: string, dataset: Record<string, unknown> } }
  manifest.name = 'Demo with a validation split'
  manifest.dataset.validation_tokens = 8192
  const created = await (await fetch(`${tracker.url}/api/campaigns`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tracker.adminToken}` }, body: JSON.stringify(manifest) })).json() as { link: string }
  await page.goto(created.link)
  await page.getByTestId('local-start').click()
  const card = page.getByTestId('local-train')
  // The figure's label carries the latest point: "Local loss: N points, latest L at step S".
  const chart = card.getByRole('img')
  await expect(chart).toHaveAttribute('aria-label', /Local loss: (1[2-9]|[2-9]\d|\d{3,}) points/, { timeout: 240_000 })
  await card.getByRole('button', { name: 'Stop' }).click()
  const label = (await chart.getAttribute('aria-label'))!
  const latest = Number(/latest ([\d.]+)/.exec(label)![1])
  expect(latest).toBeLessThan(Math.log(256) - 0.5) // from ≈ 5.55 at init
  expect(Number(await card.getByTestId('local-tps').textContent())).toBeGreaterThan(0)
  // Held-out windows, scored forward only after step 0 and every 10 steps: lower than at init.
  const val = /validation loss: (\d+) points, latest ([\d.]+) at step (\d+)/.exec(label)
  expect(val, label).not.toBeNull()
  expect(Number(val![1])).toBeGreaterThanOrEqual(1)
  expect(Number(val![2])).toBeLessThan(Math.log(256) - 0.3)
  await expect(card.getByTestId('local-val')).toBeVisible()

  await card.getByTestId('local-sample').click()
  const text = card.getByTestId('local-sample-text')
  await expect(text).toBeVisible({ timeout: 120_000 })
  const sampled = (await text.textContent()) ?? ''
  expect(sampled.startsWith('The ')).toBe(true)
  expect(sampled.length).toBeGreaterThan(100)
  expect(sampled).not.toMatch(/Could not sample/)
})
