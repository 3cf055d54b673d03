// The tab's tracker client against the real tracker: its calls are signed and accepted, a tab
// whose clock is 10 minutes off still gets in (the reply's Date header corrects it), and the
// signed-ahead leave a closing page sends takes the tab out of the swarm.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { join } from 'node:path'
import type { Tracker } from '../../tracker/tracker.ts'
import { testTrackers } from '../../tracker/test-trackers.ts'
import { newTab } from '../../tracker/swarm/swarm-test-kit.ts'
import { createTrackerClient } from './tracker-client.ts'

const trackers = testTrackers('tabgrad-tracker-client-')
let t: Tracker
beforeAll(async () => {
  t = await trackers.start()
})
afterAll(async () => { await trackers.cleanup() })

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
