// A mixed swarm: one browser tab (Chromium, SwiftShader WebGPU in its worker) and one headless
// volunteer (Node, Dawn on SwiftShader, node-datachannel WebRTC), each on its own stage of a
// 2-stage campaign, train with a falling loss. The volunteer is then SIGKILLed and restarted on the
// same data dir: it comes back as the same PeerId, on its stage, from its own checkpoint, and the
// campaign finishes with nothing lost. It is the only replica of its stage, so the run cannot
// finish unless the restarted volunteer really rejoins.
import '../src/node/polyfills.ts'
import { expect, test } from '@playwright/test'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTracker } from '../src/tracker/tracker.ts'
import { demoManifest } from '../src/campaign/demo.ts'
import type { SwarmStatus } from '../src/tracker/swarm/coordinator.ts'
import { startVolunteerProcess, type VolunteerProcess } from './volunteer-process.ts'

const STEPS = 8

test('a browser tab and a Node volunteer train together; the volunteer survives SIGKILL and resumes its stage and weights', async ({ page }) => {
  test.setTimeout(300_000)
  const trackerDir = await mkdtemp(join(tmpdir(), 'tabgrad-headless-'))
  const dataDir = await mkdtemp(join(tmpdir(), 'tabgrad-volunteer-'))
  const tracker = await startTracker({ host: '127.0.0.1', port: 0, relayPort: 0, dataDir: trackerDir, staticDir: 'dist' })
  const volunteers: VolunteerProcess[] = []
  try {
    const corpus = await readFile('dist/datasets/sotu-excerpt.txt')
    const manifest = demoManifest(createHash('sha256').update(corpus).digest('hex'), corpus.length)
    manifest.name = 'Mixed swarm: a tab and a headless volunteer'
    manifest.stages = 2
    manifest.training.steps = STEPS
    manifest.training.accumulation = 2
    const res = await fetch(`${tracker.url}/api/campaigns`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tracker.adminToken}` }, body: JSON.stringify(manifest) })
    const { id } = await res.json() as { id: string }
    const link = `${tracker.url}/#/c/${id}`
    const status = async (): Promise<SwarmStatus> => await (await fetch(`${tracker.url}/api/campaigns/${id}/swarm`)).json() as SwarmStatus
    const until = async (what: string, ok: (s: SwarmStatus) => boolean, timeoutMs = 120_000): Promise<SwarmStatus> => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const s = await status()
        if (ok(s)) return s
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last status step ${s.step}\n${volunteers.map(v => v.output()).join('\n----\n')}`)
        await new Promise(resolve => setTimeout(resolve, 250))
      }
    }

    // The volunteer takes the last stage; the tab then gets the only stage left, the first.
    const first = startVolunteerProcess([link, '--stage', '2', '--data-dir', dataDir])
    volunteers.push(first)
    const peerId = (await first.waitFor(/PeerId (12D3\w+)/))[1]
    await until('the volunteer to join', s => s.stages[1].replicas.some(r => r.peerId === peerId))
    await page.goto(link)
    await page.getByTestId('start').click({ timeout: 120_000 })
    await expect(page.getByTestId('my-stage')).toHaveAttribute('data-stage', '0', { timeout: 120_000 })

    // Trains across the browser/Node boundary: the losses come from the volunteer's stage.
    const before = await until('three optimizer steps', s => s.step >= 3)
    expect(before.stages[1].replicas.find(r => r.peerId === peerId)).toMatchObject({ headless: 1 })
    expect(before.stages[0].replicas[0]).not.toHaveProperty('headless')
    // Killed without warning once its checkpoint holds a trained step (it saves after steps).
    const saved = await first.waitFor(/training stage 2\/2[^]*?stage 2\/2 · step ([1-9]\d*)/)
    expect(Number(saved[1])).toBeGreaterThan(0)
    await new Promise(resolve => setTimeout(resolve, 6000)) // past MIN_SAVE_INTERVAL_MS: a step after 0 is on disk
    await first.kill('SIGKILL')
    const killedAt = (await status()).step

    // Restarted without --stage: the checkpoint names its stage and holds its weights.
    const second = startVolunteerProcess([link, '--data-dir', dataDir])
    volunteers.push(second)
    expect((await second.waitFor(/PeerId (12D3\w+)/))[1]).toBe(peerId)
    const ckpt = await second.waitFor(/checkpoint: stage 2, step (\d+)/)
    expect(Number(ckpt[1])).toBeGreaterThan(0)
    await second.waitFor(/Resuming from this tab's saved weights \(step \d+\)/)
    await second.waitFor(/training stage 2\/2/)

    const done = await until('the campaign to finish', s => s.done, 180_000)
    expect(done.step).toBeGreaterThan(killedAt)
    expect(done.losses).toHaveLength(STEPS)
    expect(done.losses.at(-1)!.loss).toBeLessThan(done.losses[0].loss - 0.3)
    expect(done.microbatches.lost).toBe(0)
    expect(await second.exited).toBe(0)
  } finally {
    for (const v of volunteers) await v.kill('SIGKILL')
    await tracker.close().catch(() => {})
    await rm(trackerDir, { recursive: true, force: true })
    await rm(dataDir, { recursive: true, force: true })
  }
})
