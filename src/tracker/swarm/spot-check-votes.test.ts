// Attacks on spot-check voting against a real tracker with signed calls: votes count per signed-in
// identity, not per PeerId. Unbound colluders cannot outvote a bound honest replica, two tabs of
// one address vote once, and a tab votes only on the stage it trains.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { Wallet } from 'ethers'
import type { Tracker } from '../tracker.ts'
import { testTrackers } from '../test-trackers.ts'
import { call, createCampaign, newTab, spotOutput, spotVote, twoStageManifest, type TestTab } from './swarm-test-kit.ts'

const trackers = testTrackers('tabgrad-spot-votes-')
let t: Tracker

beforeAll(async () => {
  t = await trackers.start()
})
afterAll(async () => { await trackers.cleanup() })

const honest = spotOutput([0.5, -1.25, 3.0, 1e-6])
const fake = spotOutput([9])

async function stageOneTabs (campaign: string, n: number): Promise<TestTab[]> {
  const tabs = await Promise.all(Array.from({ length: n }, async () => await newTab()))
  for (const tab of tabs) expect((await call(t, campaign, tab, 'join', { stage: 1 })).json.stage).toBe(1)
  return tabs
}

async function vote (campaign: string, tab: TestTab, microbatch: number, output: Float32Array): Promise<Array<{ peerId: string, verdict: string }>> {
  const r = await spotVote(t, campaign, tab, { microbatch, stage: 1, output })
  expect(r.status).toBe(200)
  return r.json.verdicts
}

const signIn = (...tabs: TestTab[]): void => {
  const address = Wallet.createRandom().address
  for (const tab of tabs) t.bindings.bind(address, tab.id)
}

describe('spot-check votes count per signed-in identity', () => {
  it('colluding reporters with unbound identities cannot outvote a bound honest one', async () => {
    const campaign = await createCampaign(t, twoStageManifest('Unbound colluders', { spotChecked: true }))
    const [c1, c2, anon, bound, bound2] = await stageOneTabs(campaign, 5)
    const checks = (): ReturnType<Tracker['swarm']['spotChecks']> => t.swarm.spotChecks(campaign)
    const coord = t.swarm.coordinator(campaign)!

    // Control, no one signed in: two agreeing PeerIds outvote a third, as before.
    await vote(campaign, c1, 1, fake)
    await vote(campaign, c2, 1, fake)
    expect(await vote(campaign, anon, 1, honest)).toContainEqual({ peerId: anon.id, verdict: 'flagged' })

    // The same two against a signed-in replica decide nothing.
    signIn(bound)
    await vote(campaign, c1, 2, fake)
    await vote(campaign, c2, 2, fake)
    expect(await vote(campaign, bound, 2, honest)).toEqual([])
    expect(checks()!.isFlagged(bound.id)).toBe(false)
    expect(coord.isExcluded(bound.id)).toBe(false)

    // A second signed-in replica that agrees settles it: the colluders are flagged and excluded.
    signIn(bound2)
    const verdicts = await vote(campaign, bound2, 2, honest)
    expect(verdicts).toEqual(expect.arrayContaining([
      { peerId: c1.id, verdict: 'flagged' }, { peerId: c2.id, verdict: 'flagged' },
      { peerId: bound.id, verdict: 'verified' }, { peerId: bound2.id, verdict: 'verified' }
    ]))
    for (const c of [c1, c2]) expect(coord.isExcluded(c.id)).toBe(true)
    expect(coord.isExcluded(bound.id) || coord.isExcluded(bound2.id)).toBe(false)
  })

  it('two PeerIds bound to one address count once', async () => {
    const campaign = await createCampaign(t, twoStageManifest('One address, two tabs', { spotChecked: true }))
    const [p1, p2, h, h2] = await stageOneTabs(campaign, 4)
    signIn(p1, p2)
    signIn(h)
    await vote(campaign, p1, 1, fake)
    await vote(campaign, p2, 1, fake)
    // Counted per PeerId this would be two against one; per address it is one against one.
    expect(await vote(campaign, h, 1, honest)).toEqual([])
    expect(t.swarm.spotChecks(campaign)!.isFlagged(h.id)).toBe(false)

    signIn(h2)
    const verdicts = await vote(campaign, h2, 1, honest)
    expect(verdicts).toEqual(expect.arrayContaining([{ peerId: p1.id, verdict: 'flagged' }, { peerId: p2.id, verdict: 'flagged' }, { peerId: h.id, verdict: 'verified' }]))
    expect(t.swarm.spotChecks(campaign)!.flagged.sort()).toEqual([p1.id, p2.id].sort())
  })

  it('refuses a vote on a stage the reporter does not train, and from a tab that never joined', async () => {
    const campaign = await createCampaign(t, twoStageManifest('Wrong stage', { spotChecked: true }))
    const [s0, outsider] = await Promise.all([newTab(), newTab()])
    expect((await call(t, campaign, s0, 'join', { stage: 0 })).json.stage).toBe(0)
    const wrong = await spotVote(t, campaign, s0, { microbatch: 1, stage: 1, output: fake })
    expect([wrong.status, wrong.json.error]).toEqual([403, expect.stringMatching(/trains stage 0/)])
    expect((await spotVote(t, campaign, outsider, { microbatch: 1, stage: 1, output: fake })).status).toBe(409)
    expect((await call(t, campaign, s0, 'spotcheck', { microbatch: 1, stage: 1, proofs: [] })).status).toBe(403)
    // Neither counted: two honest replicas now agree with no one outvoting them.
    const [a, b] = await stageOneTabs(campaign, 2)
    await vote(campaign, a, 1, honest)
    expect(await vote(campaign, b, 1, honest)).toEqual([{ peerId: a.id, verdict: 'verified' }, { peerId: b.id, verdict: 'verified' }])
  })
})
