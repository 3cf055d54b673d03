// "Train locally": one tab trains the demo campaign's whole model, the loss falls on the page's
// chart, and the trained model samples text.
import { expect, test } from '@playwright/test'
import { startTrackerProcess, type TrackerProcess } from './tracker-process.ts'

let tracker: TrackerProcess

test.beforeAll(async () => { tracker = await startTrackerProcess() })
test.afterAll(async () => { await tracker.stop() })

test('a single tab trains the whole model locally: the loss falls and it samples text', async ({ page }) => {
  test.setTimeout(300_000)
  await page.goto(tracker.demoLink)
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

  await card.getByTestId('local-sample').click()
  const text = card.getByTestId('local-sample-text')
  await expect(text).toBeVisible({ timeout: 120_000 })
  const sampled = (await text.textContent()) ?? ''
  expect(sampled.startsWith('The ')).toBe(true)
  expect(sampled.length).toBeGreaterThan(100)
  expect(sampled).not.toMatch(/Could not sample/)
})
