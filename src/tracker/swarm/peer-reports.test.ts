// Tabs report peers they disconnected (NaN tensors, wrong shapes, step bombs): the tracker keeps
// who reported whom, bounded, and excludes no one on one tab's word.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MAX_REPORTED_PEERS, PeerReports } from './peer-reports.ts'
import { startTracker, type Tracker } from '../tracker.ts'

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
  let t: Tracker
  let dir: string
  const [a, b] = ['12D3KooWGzh3Ltb6XKBJXmYhwMtHyp4iBUgsCTr7Adt4Lxvq3ZbS', '12D3KooWA1b2c3d4e5f6g7h8i9j1k2m3n4o5p6q7r8s9t1u2v3w4']
  const post = async (action: string, body: unknown): Promise<Response> => await fetch(`${t.url}/api/campaigns/${t.demoCampaignId}/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tabgrad-reports-'))
    t = await startTracker({ host: '127.0.0.1', port: 0, relayPort: 0, dataDir: dir, staticDir: 'public' })
  })
  afterAll(async () => { await t.close(); await rm(dir, { recursive: true, force: true }) })

  it('records a joined tab\'s report; refuses bad offenders, unknown reasons and unknown reporters; heartbeats list the previous stage', async () => {
    expect((await post('join', { peerId: a, stage: 0 })).status).toBe(200)
    expect((await post('join', { peerId: b, stage: 1 })).status).toBe(200)
    await post('heartbeat', { peerId: a, stats: {} })
    const beat = await (await post('heartbeat', { peerId: b, stats: {} })).json() as { stage: number, prev: string[] }
    expect(beat).toMatchObject({ stage: 1, prev: [a] }) // the demo campaign has two stages
    expect((await post('report', { peerId: b, offender: a, reason: 'StepBombError' })).status).toBe(200)
    expect((await post('report', { peerId: b, offender: 'not-a-peer', reason: 'StepBombError' })).status).toBe(400)
    expect((await post('report', { peerId: b, offender: a, reason: 'Whatever' })).status).toBe(400)
    expect((await post('report', { peerId: '12D3KooWNotJoinedNotJoinedNotJoinedNotJoined1234', offender: a, reason: 'ShapeError' })).status).toBe(409)
    expect([...t.swarm.peerReports(t.demoCampaignId)!.get(a)!.reporters]).toEqual([b])
  })
})
