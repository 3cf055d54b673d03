// The tab's tracker client against the real tracker: its calls are signed and accepted, a tab
// whose clock is 10 minutes off still gets in (the reply's Date header corrects it), and the
// signed-ahead leave a closing page sends takes the tab out of the swarm.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTracker, type Tracker } from '../../tracker/tracker.ts'
import { newTab } from '../../tracker/swarm/swarm-test-kit.ts'
import { createTrackerClient } from './tracker-client.ts'

let t: Tracker
let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tabgrad-tracker-client-'))
  t = await startTracker({ host: '127.0.0.1', port: 0, relayPort: 0, dataDir: dir, staticDir: 'public' })
})
afterAll(async () => { await t.close(); await rm(dir, { recursive: true, force: true }) })

const peersOf = (): string[] => t.swarm.coordinator(t.demoCampaignId)!.status().stages.flatMap(s => s.replicas.map(r => r.peerId))

it('signs every call, corrects a wrong clock, and leaves from a closing page without waiting', async () => {
  const tab = await newTab()
  const client = createTrackerClient({ origin: t.url, campaign: t.demoCampaignId, peerId: tab.id, privateKey: tab.key, now: () => Date.now() - 600_000 })
  expect((await client.join({})).stage).toBe(0)
  expect((await client.heartbeat({ flops: 1 })).excluded).toBe(false)
  expect(peersOf()).toEqual([tab.id])
  // The leave was signed ahead, after the last reply: sending it is synchronous.
  await new Promise(resolve => setTimeout(resolve, 50))
  client.leaveOnUnload()
  await expect.poll(peersOf).toEqual([])
})
