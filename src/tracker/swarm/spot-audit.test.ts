// Spot checks that do not trust the checked, against a real tracker with signed calls: the tracker
// picks what is checked in secret, reveals it only after a commitment, refuses values that do not
// open under it, and holds credit until the report comes (skipping reports costs the credit, and
// after three, the peer's whole share).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Tracker } from '../tracker.ts'
import { testTrackers } from '../test-trackers.ts'
import { outputTree } from '../../ledger/output-merkle.ts'
import { SpotChecks } from '../../ledger/spot-checks.ts'
import { SpotAudit } from './spot-audit.ts'
import { call, createCampaign, get, newTab, routeReceipts, spotOutput, spotVote, twoStageManifest, type TestTab } from './swarm-test-kit.ts'

describe('SpotAudit', () => {
  const audit = (secret: number, rate = 0.25): SpotAudit => new SpotAudit({ secret: new Uint8Array(32).fill(secret), rate, syncEvery: 2, accumulation: 4, stages: 3, checks: new SpotChecks() })

  it('checks about `rate` of stage ≥ 1 microbatches right after a sync, and another secret picks others', () => {
    const a = audit(1); const b = audit(2)
    const postSync = Array.from({ length: 4000 }, (_, i) => i).filter(mb => Math.floor(mb / 4) % 2 === 0)
    const picked = postSync.filter(mb => a.selects(mb, 1))
    expect(picked.length / postSync.length).toBeGreaterThan(0.2)
    expect(picked.length / postSync.length).toBeLessThan(0.3)
    // A public hash would pick the same set for everyone: a different secret overlaps by chance only.
    const overlap = picked.filter(mb => b.selects(mb, 1)).length / picked.length
    expect(overlap).toBeLessThan(0.4)
    expect(postSync.some(mb => a.selects(mb, 0))).toBe(false) // nobody sends stage 0 a shadow
    expect(Array.from({ length: 400 }, (_, i) => i + 4).some(mb => Math.floor(mb / 4) % 2 === 1 && a.selects(mb, 1))).toBe(false)
  })

  it('indices are secret, in range and stable', () => {
    const a = audit(1)
    const idx = a.indices(8, 1, 1000)
    expect(idx).toHaveLength(32)
    expect(idx.every(i => Number.isInteger(i) && i >= 0 && i < 1000)).toBe(true)
    expect(a.indices(8, 1, 1000)).toEqual(idx)
    expect(audit(2).indices(8, 1, 1000)).not.toEqual(idx)
  })

  it('a skipped check counts once, keeps that credit out, and the third skip names the peer', () => {
    let now = 0
    const a = new SpotAudit({ secret: new Uint8Array(32), rate: 1, syncEvery: 1, accumulation: 1, stages: 2, checks: new SpotChecks(), deadlineMs: 1000, now: () => now })
    const bwd = (mb: number, from: string): never => ({ receipt: { microbatch: mb, stage: 1, direction: 'bwd', from } }) as never
    for (const mb of [1, 2, 3]) a.credited(mb, [bwd(mb, 'lazy')])
    expect(a.isPending('lazy', 1)).toBe(true)
    expect(a.sweep()).toEqual([])
    now = 1001
    expect(a.sweep()).toEqual(['lazy'])
    expect(a.sweep()).toEqual([])
    expect([a.skipsOf('lazy'), a.isPending('lazy', 2), a.due]).toEqual([3, true, 0])
  })
})

const trackers = testTrackers('tabgrad-spot-audit-')
let t: Tracker
beforeAll(async () => { t = await trackers.start(undefined, { spotDeadlineMs: 300 }) })
afterAll(async () => { await trackers.cleanup() })

async function swarm (name: string, replicas: number): Promise<{ id: string, m: ReturnType<typeof twoStageManifest>, s0: TestTab, s1: TestTab[] }> {
  const m = twoStageManifest(name, { spotChecked: true })
  const id = await createCampaign(t, m)
  const s0 = await newTab()
  const s1 = await Promise.all(Array.from({ length: replicas }, async () => await newTab()))
  await call(t, id, s0, 'join', { stage: 0 })
  for (const tab of s1) await call(t, id, tab, 'join', { stage: 1 })
  for (const tab of [s0, ...s1]) await call(t, id, tab, 'heartbeat', { stats: {} })
  return { id, m, s0, s1 }
}

const shareOf = async (id: string, p: string): Promise<number> => (await get(t, `/api/campaigns/${id}/ownership`)).holders.find((h: { address: string }) => h.address === p)?.share ?? 0

describe('spot checks against a real tracker', () => {
  it('reveals nothing before a commitment; a second commitment to another output is refused', async () => {
    const { id, s1: [r] } = await swarm('Commit first', 1)
    const out = spotOutput([1, 2])
    expect((await call(t, id, r, 'spotcheck', { microbatch: 0, stage: 1, proofs: [] })).status).toBe(409)
    const first = await call(t, id, r, 'spotcommit', { microbatch: 0, stage: 1, step: 0, weightsDigest: 'a'.repeat(64), root: outputTree(out).root, numel: out.length })
    expect(first.json).toMatchObject({ checked: true })
    expect(first.json.shadowNext).toBeUndefined()
    expect(first.json.indices).toHaveLength(32)
    // Having seen the indices, it cannot switch to an output made for them.
    const second = await call(t, id, r, 'spotcommit', { microbatch: 0, stage: 1, step: 0, weightsDigest: 'a'.repeat(64), root: outputTree(spotOutput([3])).root, numel: out.length })
    expect(second.status).toBe(409)
  })

  it('values that do not open under the commitment get 422 and count for nothing', async () => {
    const { id, s1: [r] } = await swarm('Forged opening', 1)
    const committed = outputTree(spotOutput([1, 2]))
    const reply = await call(t, id, r, 'spotcommit', { microbatch: 0, stage: 1, step: 0, weightsDigest: 'a'.repeat(64), root: committed.root, numel: 256 })
    const other = outputTree(spotOutput([5]))
    const forged = await call(t, id, r, 'spotcheck', { microbatch: 0, stage: 1, proofs: (reply.json.indices as number[]).map(i => other.prove(i)) })
    expect(forged.status).toBe(422)
    expect((await call(t, id, r, 'spotcheck', { microbatch: 0, stage: 1, proofs: ['x'] })).status).toBe(400)
    const honest = await call(t, id, r, 'spotcheck', { microbatch: 0, stage: 1, proofs: (reply.json.indices as number[]).map(i => committed.prove(i)) })
    expect(honest.status).toBe(200)
  })

  it('the sender learns ahead which microbatches to shadow; the checked replicas never hear it', async () => {
    const { id, s0, s1: [r] } = await swarm('Shadow orders', 1)
    // Stage 0, with its leases and in its heartbeats (this step's and the next's microbatches).
    const lease = await call(t, id, s0, 'lease', { max: 2 })
    expect(lease.json.shadows).toEqual([0, 1])
    expect((await call(t, id, s0, 'heartbeat', { stats: {} })).json.shadows).toEqual([0, 1, 2, 3])
    // Stage 1, the last, is checked and sends nothing on: no word of shadows, in any reply.
    expect((await call(t, id, r, 'heartbeat', { stats: {} })).json.shadows).toBeUndefined()
  })

  it('shadow orders follow the secret selection: a low rate names only the selected microbatches', async () => {
    const m = twoStageManifest('Shadow selection', { spotChecked: true })
    m.spot_check_rate = 0.3
    m.training.accumulation = 16
    const id = await createCampaign(t, m)
    const s0 = await newTab()
    await call(t, id, s0, 'join', { stage: 0 })
    const hb = await call(t, id, s0, 'heartbeat', { stats: {} })
    const audit = t.swarm.spotAudit(id)!
    const a = m.training.accumulation
    expect(hb.json.shadows).toEqual(Array.from({ length: 2 * a }, (_, mb) => mb).filter(mb => audit.selects(mb, 1)))
    expect(hb.json.shadows.length).toBeGreaterThan(0)
    expect(hb.json.shadows.length).toBeLessThan(2 * a)
  })

  it('skipped spot-check reports: the credit stays pending, then out; three skips exclude the peer and its share goes to 0', async () => {
    const { id, m, s0, s1: [lazy, diligent] } = await swarm('Skipped reports', 2)
    const leases = (await call(t, id, s0, 'lease', { max: 2 })).json.leases.map((l: { id: number }) => l.id)
    expect(leases).toEqual([0, 1])
    // mb 0 through the diligent replica, which reports; mb 1 through the lazy one, which does not.
    await spotVote(t, id, diligent, { microbatch: 0, stage: 1, output: spotOutput([1]) })
    expect((await call(t, id, s0, 'complete', { microbatch: 0, receipts: await routeReceipts(m, id, 0, s0, diligent) })).json.credited).toBe(true)
    expect((await call(t, id, s0, 'complete', { microbatch: 1, receipts: await routeReceipts(m, id, 1, s0, lazy), window: 4 })).json.credited).toBe(true)
    expect(await shareOf(id, diligent.id)).toBeGreaterThan(0)
    expect(await shareOf(id, lazy.id)).toBe(0) // pending: its report has not come
    expect(t.swarm.spotAudit(id)!.isPending(lazy.id, 1)).toBe(true)

    // Two more microbatches through the lazy replica, never reported; its deadline passes.
    for (const mb of [2, 3]) expect((await call(t, id, s0, 'complete', { microbatch: mb, receipts: await routeReceipts(m, id, mb, s0, lazy) })).json.credited).toBe(true)
    await new Promise(resolve => setTimeout(resolve, 1200))
    await call(t, id, diligent, 'heartbeat', { stats: {} })
    expect(t.swarm.spotAudit(id)!.skipsOf(lazy.id)).toBe(3)
    const hb = await call(t, id, lazy, 'heartbeat', { stats: {} })
    expect(hb.json.excluded).toBe(true)
    expect(await shareOf(id, lazy.id)).toBe(0)
    expect(await shareOf(id, diligent.id)).toBeGreaterThan(0)
    expect(t.swarm.spotAudit(id)!.skipsOf(diligent.id)).toBe(0)
    // The stage map says so.
    const replicas = (await get(t, `/api/campaigns/${id}/swarm`)).stages[1].replicas as Array<{ peerId: string, excluded?: number, skipped?: number }>
    expect(replicas.find(r => r.peerId === lazy.id)).toMatchObject({ excluded: 1, skipped: 3 })
    expect(replicas.find(r => r.peerId === diligent.id)?.skipped).toBeUndefined()
  })
})
