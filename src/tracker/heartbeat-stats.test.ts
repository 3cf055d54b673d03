// Stats injection: a heartbeat whose stats name another peer, another stage, clear an exclusion
// or reach a prototype is refused (400) and changes nothing on the campaign page.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { join } from 'node:path'
import type { Tracker } from './tracker.ts'
import { testTrackers } from './test-trackers.ts'
import { parseHeartbeatStats } from './heartbeat-stats.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { signedPost } from '../identity/signed-post.ts'

const trackers = testTrackers('tabgrad-stats-')
let t: Tracker
beforeAll(async () => {
  t = await trackers.start()
})
afterAll(async () => { await trackers.cleanup() })

it('the schema keeps honest stats and refuses reserved keys, wrong types and absurd values', () => {
  const honest = { busy_fraction: 0.5, idle_wait_fraction: 0.1, bytes_sent: 1e6, flops: 1e12, paused: 0, throughput: 2e9, wall_ms: 1000 }
  expect({ ...parseHeartbeatStats(honest) }).toEqual(honest)
  expect(Object.getPrototypeOf(parseHeartbeatStats(honest))).toBeNull()
  for (const bad of [{ peerId: 1 }, { stage: 0 }, { excluded: 0 }, { ready: 1 }, JSON.parse('{"__proto__":{"polluted":1}}'), { flops: -1 }, { flops: '1' },
    { busy_fraction: 2 }, { throughput: 1e300 }, { 'a b': 1 }, Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`s${i}`, 1])), [1], 'x']) {
    expect(() => parseHeartbeatStats(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ status: 400 }))
  }
})

it('a joined tab cannot rename itself through its stats: 400, and the status still names it', async () => {
  const id = t.demoCampaignId
  const key = await generateKeyPair('Ed25519')
  const me = peerIdFromPrivateKey(key).toString()
  const post = async (a: string, b: unknown): Promise<Response> => await signedPost(`${t.url}/api/campaigns/${id}/${a}`, key, b)
  expect((await post('join', { peerId: me })).status).toBe(200)
  const res = await post('heartbeat', { peerId: me, stats: { peerId: 'someone-else', flops: 5 } })
  expect(res.status).toBe(400)
  expect((await res.json() as { error: string }).error).toMatch(/stats\.peerId/)
  const status = await (await fetch(`${t.url}/api/campaigns/${id}/swarm`)).json() as { stages: Array<{ replicas: Array<{ peerId: string, flops?: number }> }> }
  expect(status.stages.flatMap(s => s.replicas)).toEqual([expect.objectContaining({ peerId: me })])
  expect(status.stages.flatMap(s => s.replicas)[0].flops).toBeUndefined()
})
