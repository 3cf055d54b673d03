import { afterAll, describe, expect, it } from 'vitest'
import { LearnedCounts } from './learned-counts.ts'
import { testTrackers } from '../test-trackers.ts'
import { call, createCampaign, get, newTab, routeReceipts, twoStageManifest } from './swarm-test-kit.ts'

describe('LearnedCounts', () => {
  it('counts credited microbatches per peer in the sync period they end in', () => {
    const c = new LearnedCounts(2, 3) // steps of 2 microbatches, a sync every 3 steps
    expect([0, 5, 6, 11].map(mb => c.syncStepOf(mb))).toEqual([3, 3, 6, 6])
    c.record(0, ['s0', 'a'])
    c.record(5, ['s0', 'a', 'a']) // a peer twice on one route counts once
    c.record(6, ['s0', 'b'])
    expect(c.countsAt(3)).toEqual({ s0: 2, a: 2 })
    expect(c.countsAt(6)).toEqual({ s0: 1, b: 1 })
    expect(c.countsAt(9)).toEqual({})
    expect(c.sawWhole(3)).toBe(true)
  })

  it('after a restart, a period begun before it is not whole', () => {
    const c = new LearnedCounts(2, 3, 5) // restarted in step 4: counting from step 5
    expect([3, 6, 9].map(s => c.sawWhole(s))).toEqual([false, false, true])
  })

  it('keeps a bounded number of periods', () => {
    const c = new LearnedCounts(1, 1, 0, 4)
    for (let mb = 0; mb < 100; mb++) c.record(mb, ['p'])
    expect(c.countsAt(100)).toEqual({ p: 1 })
    expect(c.countsAt(1)).toEqual({})
  })
})

describe('GET …/learned on a real tracker', () => {
  const trackers = testTrackers('tabgrad-learned-')
  afterAll(async () => { await trackers.cleanup() })

  it('reports credited microbatches per route member, final once the sync step has opened', async () => {
    const t = await trackers.start()
    const m = twoStageManifest('Learned counts') // 2 microbatches a step, a sync every 4 steps
    const id = await createCampaign(t, m)
    const [s0, a, b] = await Promise.all([newTab(), newTab(), newTab()])
    await call(t, id, s0, 'join', { stage: 0 })
    for (const tab of [a, b]) await call(t, id, tab, 'join', { stage: 1 })
    for (const tab of [s0, a, b]) await call(t, id, tab, 'heartbeat', { stats: {} })
    await call(t, id, s0, 'lease', { max: 2 })
    await call(t, id, s0, 'complete', { microbatch: 0, receipts: await routeReceipts(m, id, 0, s0, a) })
    await call(t, id, s0, 'complete', { microbatch: 1, receipts: await routeReceipts(m, id, 1, s0, a) })
    const sync = m.training.sync_every
    expect(await get(t, `/api/campaigns/${id}/learned?step=${sync}`)).toEqual({ step: sync, final: false, counts: { [s0.id]: 2, [a.id]: 2 } })
    expect((await fetch(`${t.url}/api/campaigns/${id}/learned?step=-1`)).status).toBe(400)
  })
})
