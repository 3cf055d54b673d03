// The tracker's routing avoids pairs that cannot talk: a tab is not told to send its activations
// to a next-stage replica that either side reported unreachable (`POST /api/reachability`),
// unless no other is left.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { signReachabilityReport, type LinkReport } from '../../net/ice-reachability.ts'
import type { Tracker } from '../tracker.ts'
import { testTrackers } from '../test-trackers.ts'
import { call, createCampaign, newTab, twoStageManifest, type TestTab } from './swarm-test-kit.ts'

describe('reachability-aware routing', () => {
  const trackers = testTrackers('tabgrad-reach-')
  let t: Tracker
  let campaign: string
  let a: TestTab
  let b: TestTab
  let c: TestTab

  const report = async (from: TestTab, links: LinkReport[]): Promise<number> => (await fetch(`${t.url}/api/reachability`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(await signReachabilityReport(from.key, from.id, links))
  })).status
  const next = async (tab: TestTab): Promise<string[]> => ((await call(t, campaign, tab, 'heartbeat', { stats: {} })).json as { next: string[] }).next.slice().sort()

  beforeAll(async () => {
    t = await trackers.start()
    campaign = await createCampaign(t, twoStageManifest('reachability'))
    ;[a, b, c] = [await newTab(), await newTab(), await newTab()]
    expect((await call(t, campaign, a, 'join', { stage: 0 })).status).toBe(200)
    expect((await call(t, campaign, b, 'join', { stage: 1 })).status).toBe(200)
    expect((await call(t, campaign, c, 'join', { stage: 1 })).status).toBe(200)
    for (const tab of [b, c]) await call(t, campaign, tab, 'heartbeat', { stats: {} })
  })
  afterAll(async () => { await trackers.cleanup() })

  it('leaves a replica reported unreachable out of a tab\'s next stage, from either side, but never strands the stage', async () => {
    expect(await next(a)).toEqual([b.id, c.id].sort())
    // C (behind a symmetric NAT, no TURN) says it cannot reach A: A is no longer sent to C.
    expect(await report(c, [{ peer: a.id, kind: 'unreachable' }])).toBe(200)
    expect(await next(a)).toEqual([b.id])
    // If A can reach neither, it gets both back (a stale report must not stall the stage).
    expect(await report(a, [{ peer: b.id, kind: 'unreachable' }])).toBe(200)
    expect(await next(a)).toEqual([b.id, c.id].sort())
    // A newer success wins over the old failure.
    expect(await report(a, [{ peer: b.id, kind: 'direct' }])).toBe(200)
    expect(await next(a)).toEqual([b.id])
  })

  it('does not assign a joining tab to a stage whose neighbours it is reported unable to reach', async () => {
    const other = await createCampaign(t, twoStageManifest('reachability: assignment'))
    const [fast0, slow1, y, x] = [await newTab(), await newTab(), await newTab(), await newTab()]
    const join = async (tab: TestTab, body: Record<string, unknown>): Promise<number> => (await call(t, other, tab, 'join', body)).json.stage
    // Stage 0 is well served, stage 1 barely: a new tab goes to stage 1.
    expect(await join(fast0, { stage: 0, throughput: 1e15 })).toBe(0)
    expect(await join(slow1, { stage: 1, throughput: 1 })).toBe(1)
    for (const tab of [fast0, slow1]) await call(t, other, tab, 'heartbeat', { stats: {} })
    expect(await join(y, {})).toBe(1)
    // X cannot reach stage 0's only replica (as reported from another campaign's work): on stage 1
    // it could send nothing back, so it is put on stage 0, whose neighbour it can reach.
    expect(await report(x, [{ peer: fast0.id, kind: 'unreachable' }])).toBe(200)
    expect(await join(x, {})).toBe(0)
  })
})
