// A tracker restart undoes nothing: the step stays where it was, nothing is credited twice, the
// microbatches already in the ledger are not leased again, and a peer flagged by a spot check
// stays out of routing with its share at 0. The real tracker is closed and started again on the
// same data directory.
import { afterEach, expect, it } from 'vitest'
import type { Tracker } from '../tracker.ts'
import { testTrackers } from '../test-trackers.ts'
import { call, createCampaign, spotOutput, spotVote, get, newTab, routeReceipts, twoStageManifest } from './swarm-test-kit.ts'

const trackers = testTrackers('tabgrad-swarm-restart-')
afterEach(async () => { await trackers.cleanup() })

it('keeps the step, the done set and the flagged peers across a restart: no double credit, a flagged share stays 0', async () => {
  const dir = await trackers.dataDir()
  const m = twoStageManifest('Restart test', { spotChecked: true })
  let t = await trackers.start(dir)
  const id = await createCampaign(t, m)
  const [a, b, x, y, z] = await Promise.all([newTab(), newTab(), newTab(), newTab(), newTab()])
  await call(t, id, a, 'join', { stage: 0 })
  for (const tab of [b, x, y, z]) await call(t, id, tab, 'join', { stage: 1 })
  for (const tab of [a, b, x, y, z]) await call(t, id, tab, 'heartbeat', { stats: {} })

  // Step 0 (microbatches 0 and 1) and half of step 1 (microbatch 2); z trains microbatch 0.
  expect((await call(t, id, a, 'lease', { max: 3 })).json.leases.map((l: { id: number }) => l.id)).toEqual([0, 1])
  expect((await call(t, id, a, 'complete', { microbatch: 0, receipts: await routeReceipts(m, id, 0, a, z) })).json.credited).toBe(true)
  const c1 = await call(t, id, a, 'complete', { microbatch: 1, receipts: await routeReceipts(m, id, 1, a, b), window: 2 })
  expect(c1.json).toMatchObject({ credited: true, step: 1, leases: [{ id: 2, step: 1 }, { id: 3, step: 1 }] })
  expect((await call(t, id, a, 'complete', { microbatch: 2, receipts: await routeReceipts(m, id, 2, a, b) })).json.credited).toBe(true)

  // z disagrees with x and y on a spot check: flagged, its share withheld.
  const spot = { microbatch: 0, stage: 1, step: 1, weightsDigest: 'f'.repeat(64) }
  await spotVote(t, id, x, { ...spot, output: spotOutput([1, 2, 3]) })
  await spotVote(t, id, y, { ...spot, output: spotOutput([1, 2, 3]) })
  const verdicts = (await spotVote(t, id, z, { ...spot, output: spotOutput([9, 9, 9]) })).json.verdicts
  expect(verdicts).toContainEqual({ peerId: z.id, verdict: 'flagged' })
  const shareOf = async (tr: Tracker, p: string): Promise<number> => (await get(tr, `/api/campaigns/${id}/ownership`)).holders.find((h: { address: string }) => h.address === p)?.share ?? 0
  expect(await shareOf(t, z.id)).toBe(0)
  const ledgerBefore = (await get(t, `/api/campaigns/${id}/ledger`)).length
  expect(ledgerBefore).toBe(3)

  await trackers.close(t)
  t = await trackers.start(dir)

  // Before any tab is back, the campaign page shows the step it was at and the flagged share is 0.
  expect((await get(t, `/api/campaigns/${id}/swarm`)).step).toBe(1)
  expect((await get(t, '/api/campaigns')).campaigns.find((c: { id: string }) => c.id === id).status.step).toBe(1)
  expect(await shareOf(t, z.id)).toBe(0)
  expect(await shareOf(t, a.id)).toBeGreaterThan(0)

  // The tabs rejoin (the tracker forgot them: 409 first, as the app sees it).
  expect((await call(t, id, a, 'heartbeat', { stats: {} })).status).toBe(409)
  for (const [tab, stage] of [[a, 0], [b, 1], [z, 1]] as const) {
    await call(t, id, tab, 'join', { stage })
    await call(t, id, tab, 'heartbeat', { stats: {} })
  }
  // Completing what the ledger already holds credits nothing.
  for (const mb of [0, 2]) expect((await call(t, id, a, 'complete', { microbatch: mb, receipts: await routeReceipts(m, id, mb, a, b) })).json.credited).toBe(false)
  // z is still out: excluded in its heartbeat, not routed to, and a route through it earns nothing.
  expect((await call(t, id, z, 'heartbeat', { stats: {} })).json.excluded).toBe(true)
  expect((await call(t, id, a, 'heartbeat', { stats: {} })).json.next).toEqual([b.id])
  expect((await call(t, id, a, 'complete', { microbatch: 3, receipts: await routeReceipts(m, id, 3, a, z) })).status).toBe(403)
  expect((await get(t, `/api/campaigns/${id}/ledger`)).length).toBe(ledgerBefore)
  // Microbatch 3, leased before the restart and still in flight, is credited when it comes back.
  expect((await call(t, id, a, 'complete', { microbatch: 3, receipts: await routeReceipts(m, id, 3, a, b) })).json).toMatchObject({ credited: true, step: 2 })
  // Nothing credited is leased again: the next leases are step 2's.
  expect((await call(t, id, a, 'lease', { max: 4 })).json.leases).toEqual([{ id: 4, step: 2 }, { id: 5, step: 2 }])
  expect(await shareOf(t, z.id)).toBe(0)
})
