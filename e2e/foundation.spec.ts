// Foundation: two volunteers' tabs find WebGPU in their compute workers, join the tracker's
// network, open a direct WebRTC connection through the relay and move 4 MiB intact.
import { expect, test } from '@playwright/test'
import { startTrackerProcess, type TrackerProcess } from './tracker-process.ts'

let tracker: TrackerProcess

test.beforeAll(async () => { tracker = await startTrackerProcess() })
test.afterAll(async () => {
  // SIGTERM must shut the tracker down cleanly (exit code 0).
  expect(await tracker.stop('SIGTERM')).toBe(0)
})

test('two tabs find WebGPU in a worker and exchange 4 MiB over direct WebRTC', async ({ browser }) => {
  test.setTimeout(360_000)
  const contexts = await Promise.all([browser.newContext(), browser.newContext()])
  const [a, b] = await Promise.all(contexts.map(async ctx => await ctx.newPage()))
  const consoleErrors: string[] = []
  for (const p of [a, b]) p.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()) })
  await Promise.all([a.goto(`${tracker.url}/#/`), b.goto(`${tracker.url}/#/`)])

  for (const p of [a, b]) {
    await expect(p.getByTestId('webgpu-status')).toHaveText('WebGPU ready', { timeout: 60_000 })
    await expect(p.getByTestId('adapter-vendor')).not.toHaveText('')
    await expect(p.getByTestId('net-status')).toHaveText('Online', { timeout: 60_000 })
  }
  const idA = (await a.getByTestId('peer-id').textContent())!.trim()
  const idB = (await b.getByTestId('peer-id').textContent())!.trim()
  expect(idA).toMatch(/^12D3KooW/)
  expect(idB).not.toBe(idA)

  // Each sees the other through the relay's pubsub discovery.
  await expect(a.locator(`[data-testid="peer-row"][data-peer="${idB}"]`)).toBeVisible({ timeout: 60_000 })
  await expect(b.locator(`[data-testid="peer-row"][data-peer="${idA}"]`)).toBeVisible({ timeout: 60_000 })
  await expect(a.getByTestId('peer-count')).not.toHaveText('0')
  // And keeps seeing it while it announces itself, past the 10 s a silent peer takes to expire
  // (libp2p reports a peer only once; a volunteer may look minutes later).
  await a.waitForTimeout(13_000)
  await expect(a.locator(`[data-testid="peer-row"][data-peer="${idB}"]`)).toBeVisible({ timeout: 1000 })

  await a.locator(`[data-testid="peer-row"][data-peer="${idB}"] button`).click()
  const sent = a.locator('[data-testid="link-check"][data-direction="sent"]')
  const received = b.locator('[data-testid="link-check"][data-direction="received"]')
  // A stalled first attempt is aborted at 60 s and retried once on a fresh connection; a failure
  // shows its reason, which the test reports instead of waiting out its timeout.
  const failed = a.getByRole('alert')
  await expect(sent.or(failed)).toBeVisible({ timeout: 200_000 })
  if (await failed.count() > 0) throw new Error(`link check failed: ${await failed.first().textContent()}`)
  await expect(sent).toHaveCount(1)
  await expect(received).toHaveCount(1)
  expect(await sent.getAttribute('data-ok')).toBe('true')
  expect(await received.getAttribute('data-ok')).toBe('true')
  expect(Number(await received.getAttribute('data-bytes'))).toBe(4 * 1024 * 1024)
  // The digest B computed over what arrived is the digest A reports back from B's answer.
  const digest = await received.getAttribute('data-digest')
  expect(digest).toMatch(/^[0-9a-f]{64}$/)
  expect(await sent.getAttribute('data-digest')).toBe(digest)
  // The transfer went over a direct WebRTC connection, not the relay.
  await expect(a.locator(`[data-testid="peer-row"][data-peer="${idB}"]`)).toContainText('direct (WebRTC)')

  expect(consoleErrors).toEqual([])
  await Promise.all(contexts.map(async ctx => await ctx.close()))
})
