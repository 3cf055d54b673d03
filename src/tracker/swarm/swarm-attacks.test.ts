// Attacks on the swarm API of a real tracker, each refused with nothing credited and nothing
// changed: unsigned, forged, tampered, stale and replayed calls (401), a body speaking for another
// tab (403), a stolen lease (403), and fake routes: peers that never joined, a hop on the wrong
// stage, digests that do not chain. An honest route still earns its credit at the end.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import type { Tracker } from '../tracker.ts'
import { testTrackers } from '../test-trackers.ts'
import { signCall } from '../../identity/swarm-call-signature.ts'
import { call, createCampaign, get, newTab, routeReceipts, twoStageManifest, type TestTab } from './swarm-test-kit.ts'

const trackers = testTrackers('tabgrad-swarm-attacks-')
let t: Tracker
let campaign: string
const m = twoStageManifest('Attack test')
let a: TestTab // stage 0, the honest lease holder
let b: TestTab // stage 1
let thief: TestTab // stage 0 too, holds no lease

beforeAll(async () => {
  t = await trackers.start()
  campaign = await createCampaign(t, m)
  ;[a, b, thief] = await Promise.all([newTab(), newTab(), newTab()])
  expect((await call(t, campaign, a, 'join', { stage: 0 })).json.stage).toBe(0)
  expect((await call(t, campaign, b, 'join', { stage: 1 })).json.stage).toBe(1)
  expect((await call(t, campaign, thief, 'join', { stage: 0 })).json.stage).toBe(0)
  for (const tab of [a, b, thief]) expect((await call(t, campaign, tab, 'heartbeat', { stats: {} })).status).toBe(200)
})
afterAll(async () => { await trackers.cleanup() })

const url = (action: string): string => `${t.url}/api/campaigns/${campaign}/${action}`
const ledgerLength = async (): Promise<number> => (await get(t, `/api/campaigns/${campaign}/ledger`)).length
const replicas = async (): Promise<string[]> => (await get(t, `/api/campaigns/${campaign}/swarm`)).stages.flatMap((s: { replicas: Array<{ peerId: string }> }) => s.replicas.map(r => r.peerId))

describe('who is calling', () => {
  it('refuses an unsigned call with 401 and a one-line JSON error, and changes nothing', async () => {
    const res = await fetch(url('leave'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ peerId: a.id }) })
    expect(res.status).toBe(401)
    const text = await res.text()
    expect(text).not.toMatch(/\n./)
    expect(JSON.parse(text).error).toMatch(/unsigned swarm call/)
    expect(await replicas()).toContain(a.id)
  })

  it('refuses a forged, a tampered, a stale and a replayed call with 401', async () => {
    // Forged: the headers name a, the signature is the thief's.
    const forged = await signCall(thief.key, { method: 'POST', path: new URL(url('leave')).pathname, peerId: thief.id, time: Date.now(), body: { peerId: a.id } })
    forged['x-tabgrad-peer'] = a.id
    const f = await fetch(url('leave'), { method: 'POST', headers: { 'content-type': 'application/json', ...forged }, body: JSON.stringify({ peerId: a.id }) })
    expect([f.status, (await f.json()).error]).toEqual([401, expect.stringMatching(/not by the PeerId/)])

    // Tampered: a's signed heartbeat replayed with another body.
    const signed = await signCall(a.key, { method: 'POST', path: new URL(url('heartbeat')).pathname, peerId: a.id, time: Date.now(), body: { peerId: a.id, stats: {} } })
    const tampered = await fetch(url('leave'), { method: 'POST', headers: { 'content-type': 'application/json', ...signed }, body: JSON.stringify({ peerId: a.id }) })
    expect(tampered.status).toBe(401)

    // Stale: signed 10 minutes ago.
    expect((await call(t, campaign, a, 'leave', {}, { time: Date.now() - 600_000 })).status).toBe(401)

    // Replayed: the very same signed heartbeat twice.
    const send = async (): Promise<number> => (await fetch(url('heartbeat'), { method: 'POST', headers: { 'content-type': 'application/json', ...signed }, body: JSON.stringify({ peerId: a.id, stats: {} }) })).status
    expect(await send()).toBe(200)
    const again = await fetch(url('heartbeat'), { method: 'POST', headers: { 'content-type': 'application/json', ...signed }, body: JSON.stringify({ peerId: a.id, stats: {} }) })
    expect([again.status, (await again.json()).error]).toEqual([401, expect.stringMatching(/replayed/)])
    expect(await replicas()).toContain(a.id)
  })

  it("refuses with 403 a signed call whose body speaks for another tab (leave, pause, heartbeat)", async () => {
    for (const [action, body] of [['leave', {}], ['heartbeat', { stats: { paused: 1 } }], ['lease', { max: 4 }]] as const) {
      const res = await call(t, campaign, a, action, body, { signer: thief.key })
      expect([action, res.status]).toEqual([action, 403])
    }
    const status = await get(t, `/api/campaigns/${campaign}/swarm`)
    const entry = status.stages[0].replicas.find((r: { peerId: string }) => r.peerId === a.id)
    expect(entry.paused ?? 0).toBe(0)
    expect(status.microbatches.in_flight).toBe(0)
  })
})

describe('who is credited', () => {
  it('a stolen lease completes nothing (403), and the holder is credited', async () => {
    const { leases } = (await call(t, campaign, a, 'lease', { max: 1 })).json
    expect(leases).toEqual([{ id: 0, step: 0 }])
    // The thief ran a real route for it (with b) and presents valid receipts: still not its lease.
    const stolen = await call(t, campaign, thief, 'complete', { microbatch: 0, receipts: await routeReceipts(m, campaign, 0, thief, b) })
    expect(stolen.status).toBe(403)
    expect(stolen.json.error).toMatch(/not leased to/)
    expect(await ledgerLength()).toBe(0)
    const honest = await call(t, campaign, a, 'complete', { microbatch: 0, receipts: await routeReceipts(m, campaign, 0, a, b) })
    expect(honest.json.credited).toBe(true)
    expect(await ledgerLength()).toBe(1)
  })

  it('a fake route is refused with 0 credit: fresh keys that never joined, a hop on the wrong stage, digests that do not chain', async () => {
    const { leases } = (await call(t, campaign, a, 'lease', { max: 1 })).json
    const mb = leases[0].id as number
    const [f0, f1] = await Promise.all([newTab(), newTab()])
    // Two fresh keys sign a perfect route; the lease holder presents it as its own: f1 never joined.
    const fresh = await call(t, campaign, a, 'complete', { microbatch: mb, receipts: await routeReceipts(m, campaign, mb, a, f1) })
    expect([fresh.status, fresh.json.error]).toEqual([403, expect.stringMatching(/did not join that stage/)])
    // A route made only of fresh keys cannot even be presented: f0 is no tab of this campaign.
    expect((await call(t, campaign, f0, 'complete', { microbatch: mb, receipts: await routeReceipts(m, campaign, mb, f0, f1) })).status).toBe(409)
    // The thief joined, but stage 0, not stage 1.
    const wrongStage = await call(t, campaign, a, 'complete', { microbatch: mb, receipts: await routeReceipts(m, campaign, mb, a, thief) })
    expect(wrongStage.status).toBe(403)
    // Real members, but the last stage's receipt is about other activations than stage 0 sent.
    const unchained = await call(t, campaign, a, 'complete', { microbatch: mb, receipts: await routeReceipts(m, campaign, mb, a, b, { input: 'tokens', act: 'act', grad: 'grad', bwdInput: 'other' }) })
    expect([unchained.status, unchained.json.error]).toEqual([400, expect.stringMatching(/another input/)])
    expect(await ledgerLength()).toBe(1)
    expect((await get(t, `/api/campaigns/${campaign}/swarm`)).microbatches.completed).toBe(1)
    // The honest route for it is still credited.
    expect((await call(t, campaign, a, 'complete', { microbatch: mb, receipts: await routeReceipts(m, campaign, mb, a, b) })).json.credited).toBe(true)
    const own = await get(t, `/api/campaigns/${campaign}/ownership`)
    expect(own.holders.map((h: { address: string }) => h.address).sort()).toEqual([a.id, b.id].sort())
  })

  it('only the last stage may report a loss', async () => {
    const { leases } = (await call(t, campaign, a, 'lease', { max: 1 })).json
    const mb = leases[0].id as number
    expect((await call(t, campaign, thief, 'loss', { microbatch: mb, loss: 1e6 })).status).toBe(200)
    expect((await call(t, campaign, b, 'loss', { microbatch: mb, loss: 2 })).status).toBe(200)
    expect((await call(t, campaign, a, 'complete', { microbatch: mb, receipts: await routeReceipts(m, campaign, mb, a, b) })).json.credited).toBe(true)
    const { leases: next } = (await call(t, campaign, a, 'lease', { max: 1 })).json
    expect((await call(t, campaign, b, 'loss', { microbatch: next[0].id, loss: 4 })).status).toBe(200)
    expect((await call(t, campaign, a, 'complete', { microbatch: next[0].id, receipts: await routeReceipts(m, campaign, next[0].id, a, b) })).json.credited).toBe(true)
    // Step 1 closed with the last stage's losses only: (2 + 4) / 2.
    expect((await get(t, `/api/campaigns/${campaign}/swarm`)).losses).toContainEqual({ step: 1, loss: 3, microbatches: 2 })
  })
})
