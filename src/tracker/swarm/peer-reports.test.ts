// Tabs report peers they disconnected (NaN tensors, wrong shapes, step bombs): the tracker keeps
// who reported whom, bounded, and excludes no one on one tab's word.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { MAX_REPORTED_PEERS, PeerReports } from './peer-reports.ts'
import type { Tracker } from '../tracker.ts'
import { testTrackers } from '../test-trackers.ts'
import { call, newTab, type TestTab } from './swarm-test-kit.ts'

describe('PeerReports', () => {
  it('counts distinct reporters per offender, ignores self-reports, and forgets the oldest offender past its bound', () => {
    const r = new PeerReports()
    expect(r.record('a', 'x', 'NonFiniteError')).toBe(1)
    expect(r.record('a', 'x', 'ShapeError')).toBe(1)
    expect(r.record('b', 'x', 'NonFiniteError')).toBe(2)
    expect(r.record('x', 'x', 'StepBombError')).toBe(2)
    expect([...r.get('x')!.reasons].sort()).toEqual(['NonFiniteError', 'ShapeError'])
    for (let i = 0; i < MAX_REPORTED_PEERS; i++) r.record('a', `o${i}`, 'ShapeError')
    expect(r.get('x')).toBeUndefined()
    expect(r.get(`o${MAX_REPORTED_PEERS - 1}`)).toBeDefined()
  })
})

describe('the report route', () => {
  const trackers = testTrackers('tabgrad-reports-')
  let t: Tracker
  let a: TestTab
  let b: TestTab
  const post = async (tab: TestTab, action: string, body: Record<string, unknown>): Promise<number> => (await call(t, t.demoCampaignId, tab, action, body)).status

  beforeAll(async () => {
    t = await trackers.start()
    ;[a, b] = [await newTab(), await newTab()]
  })
  afterAll(async () => { await trackers.cleanup() })

  it('records a joined tab\'s report; refuses bad offenders, unknown reasons, unknown and unsigned reporters; heartbeats list the previous stage', async () => {
    expect(await post(a, 'join', { stage: 0 })).toBe(200)
    expect(await post(b, 'join', { stage: 1 })).toBe(200)
    await post(a, 'heartbeat', { stats: {} })
    const beat = await call(t, t.demoCampaignId, b, 'heartbeat', { stats: {} })
    expect(beat.json).toMatchObject({ stage: 1, prev: [a.id] }) // the demo campaign has two stages
    expect(await post(b, 'report', { offender: a.id, reason: 'StepBombError' })).toBe(200)
    expect(await post(b, 'report', { offender: 'not-a-peer', reason: 'StepBombError' })).toBe(400)
    expect(await post(b, 'report', { offender: a.id, reason: 'Whatever' })).toBe(400)
    expect(await post(await newTab(), 'report', { offender: a.id, reason: 'ShapeError' })).toBe(409)
    // A report is a mutating call: unsigned, it is refused like any other.
    const unsigned = await fetch(`${t.url}/api/campaigns/${t.demoCampaignId}/report`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ peerId: b.id, offender: a.id, reason: 'ShapeError' }) })
    expect(unsigned.status).toBe(401)
    expect([...t.swarm.peerReports(t.demoCampaignId)!.get(a.id)!.reporters]).toEqual([b.id])
  })
})
