// A mixed swarm: one browser tab (Chromium, SwiftShader WebGPU in its worker) and one headless
// volunteer (Node, Dawn on SwiftShader, node-datachannel WebRTC), each on its own stage of a
// 2-stage campaign, train with a falling loss. The volunteer is then SIGKILLed and restarted on the
// same data dir: it comes back as the same PeerId, on its stage, from its own checkpoint, and the
// campaign finishes with nothing lost. It is the only replica of its stage, so the run cannot
// finish unless the restarted volunteer really rejoins.
import '../src/node/polyfills.ts'
import { expect, test } from '@playwright/test'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTracker } from '../src/tracker/tracker.ts'
import { demoManifest } from '../src/campaign/demo.ts'
import type { SwarmStatus } from '../src/tracker/swarm/coordinator.ts'
import { Wallet } from 'ethers'
import { startVolunteerProcess, type VolunteerProcess } from '../src/headless/volunteer-process.ts'
import { runSwarm } from '../src/cli/swarm-runner.ts'
import { configure, lossDifference } from '../src/cli/bench-swarm.ts'

const STEPS = 8

test.describe.configure({ mode: 'serial' })

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
    // The campaign page's stage map tells them apart.
    await expect(page.getByTestId('stage-column').nth(1).locator('li[data-agent="node"]')).toContainText('headless')
    await expect(page.getByTestId('stage-column').nth(0).locator('li[data-agent="browser"]')).toHaveCount(1)
    // Killed without warning once its checkpoint on disk holds a trained step (it saves after steps and every 15 s).
    const checkpointStep = async (): Promise<number> => {
      const head = await readFile(join(dataDir, 'campaigns', `${id}.ckpt`)).then(b => new TextDecoder().decode(b.subarray(0, 300)), () => '')
      return Number(/"step":(\d+)/.exec(head)?.[1] ?? -1)
    }
    await expect.poll(checkpointStep, { timeout: 60_000, intervals: [250] }).toBeGreaterThan(0)
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
    // To a browser tab a Node volunteer connects over WebRTC (it also listens on TCP, which tabs cannot dial).
    await second.waitFor(/listening on TCP \/ip4\//)
    await second.waitFor(/direct connection to 12D3\w+ over WebRTC/, 60_000)

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

test('two Node volunteers, one signed in with a wallet key file: Ctrl-C saves, hands the leases back at once and exits 0', async () => {
  test.setTimeout(240_000)
  const trackerDir = await mkdtemp(join(tmpdir(), 'tabgrad-headless-'))
  const home = await mkdtemp(join(tmpdir(), 'tabgrad-volunteers-'))
  const tracker = await startTracker({ host: '127.0.0.1', port: 0, relayPort: 0, dataDir: trackerDir, staticDir: 'dist' })
  const volunteers: VolunteerProcess[] = []
  try {
    const corpus = await readFile('dist/datasets/sotu-excerpt.txt')
    const manifest = demoManifest(createHash('sha256').update(corpus).digest('hex'), corpus.length)
    manifest.name = 'All-Node swarm'
    manifest.stages = 2
    manifest.training.steps = 100
    manifest.training.accumulation = 2
    const res = await fetch(`${tracker.url}/api/campaigns`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tracker.adminToken}` }, body: JSON.stringify(manifest) })
    const { id } = await res.json() as { id: string }
    const link = `${tracker.url}/#/c/${id}`
    const status = async (): Promise<SwarmStatus> => await (await fetch(`${tracker.url}/api/campaigns/${id}/swarm`)).json() as SwarmStatus
    const wallet = Wallet.createRandom()
    await writeFile(join(home, 'wallet.key'), `${wallet.privateKey}\n`, { mode: 0o600 })

    const a = startVolunteerProcess([link, '--stage', '1', '--data-dir', join(home, 'a'), '--wallet-key', join(home, 'wallet.key')])
    const b = startVolunteerProcess([link, '--stage', '2', '--data-dir', join(home, 'b'), '--gpu-budget', '0.5'])
    volunteers.push(a, b)
    await a.waitFor(new RegExp(`signed in as ${wallet.address}`))
    const peerA = (await a.waitFor(/PeerId (12D3\w+)/))[1]
    const identity = await (await fetch(`${tracker.url}/api/identity/${wallet.address}`)).json() as { peerIds: string[] }
    expect(identity.peerIds).toContain(peerA)

    // Both stages train over WebRTC between the two Node processes; the loss falls.
    await expect.poll(async () => (await status()).step, { timeout: 150_000, intervals: [500] }).toBeGreaterThanOrEqual(4)
    const losses = (await status()).losses
    expect(losses.at(-1)!.loss).toBeLessThan(losses[0].loss)
    // Two Node volunteers that reach each other's TCP port connect over TCP, not WebRTC.
    const peerB = (await b.waitFor(/PeerId (12D3\w+)/))[1]
    await a.waitFor(new RegExp(`direct connection to ${peerB} over TCP`)).catch((err: Error) => { throw new Error(`${err.message}\n---- the other volunteer:\n${b.output()}`) })
    expect(a.output()).not.toContain(`direct connection to ${peerB} over WebRTC`)
    await a.waitFor(/stage 1\/2 · step \d+ · \d+ microbatches · \d+ tokens\/s · GPU busy \d+%/)
    await b.waitFor(/stage 2\/2 · step \d+ · \d+ microbatches · \d+ tokens\/s · GPU busy \d+% · MFU [\d.]+% · loss \d+\.\d{4}/)
    // The work of the signed-in volunteer is credited to the wallet's address, not its PeerId.
    await expect.poll(async () => {
      const own = await (await fetch(`${tracker.url}/api/campaigns/${id}/ownership`)).json() as { holders: Array<{ address: string }> }
      return own.holders.map(h => h.address)
    }, { timeout: 30_000 }).toContain(wallet.address)

    // Ctrl-C on stage 1, which holds the leases: it leaves at once, far sooner than the tracker's 15 s timeout.
    a.child.kill('SIGINT')
    expect(await a.exited).toBe(0)
    expect(a.output()).toContain('SIGINT: saving the checkpoint and handing the work back')
    expect(a.output()).toContain('left the campaign')
    const after = await status()
    expect(after.stages[0].replicas).toHaveLength(0)
    expect(after.microbatches.in_flight).toBe(0)
    expect(after.microbatches.lost).toBe(0)
    const saved = await readFile(join(home, 'a', 'campaigns', `${id}.ckpt`))
    expect(new TextDecoder().decode(saved.subarray(0, 200))).toMatch(/"stage":0,"step":[1-9]/)
    b.child.kill('SIGTERM')
    const code = await b.exited
    expect(code, b.output()).toBe(0)
  } finally {
    for (const v of volunteers) await v.kill('SIGKILL')
    await tracker.close().catch(() => {})
    await rm(trackerDir, { recursive: true, force: true })
    await rm(home, { recursive: true, force: true })
  }
})

// The issue's test: 4 Node volunteers (2 stages × 2 replicas, Dawn on SwiftShader, TCP between
// them) against one Node volunteer training the whole model alone, on the same campaign settings
// and data. Step 0 starts from the same weights on the same microbatches, so only float rounding
// differs; later the replicas step on their halves of the batch and average, which tracks but does
// not equal the full-batch step. Tolerance 2% per step at equal tokens (the bench measured ≤ 1.03%
// over 9 steps, bench/results/swarm-headless.json).
test('a 4-volunteer all-Node swarm matches the single-process baseline within 2% per step', async () => {
  test.setTimeout(300_000)
  const STEPS = 4
  const lines: string[] = []
  const log = (l: string): void => { lines.push(l) }
  const setup = (stages: number) => (m: Parameters<typeof configure>[0]): void => { configure(m, 'tiny', STEPS); m.stages = stages }
  const t0 = Date.now()
  const base = await runSwarm({ tabs: 0, headless: 1, stages: 1, steps: STEPS, manifest: setup(1), log, timeoutMs: 120_000 })
  const t1 = Date.now()
  const swarm = await runSwarm({ tabs: 0, headless: 4, stages: 2, steps: STEPS, stageHints: [1, 1, 0, 0], manifest: setup(2), log, timeoutMs: 180_000 })
  const t2 = Date.now()
  const b = base.report
  const r = swarm.report
  const d = lossDifference(r, b)
  console.log(`baseline ${((t1 - t0) / 1000).toFixed(0)} s, swarm ${((t2 - t1) / 1000).toFixed(0)} s; microbatches per volunteer ${r.tabs.map(t => `${t.stage}:${t.microbatches}`).join(' ')}; per-step loss difference ${d.perStep.map(x => `${(100 * x).toFixed(2)}%`).join(' ')}`)
  expect(b.steps, lines.join('\n')).toHaveLength(STEPS)
  expect(r.steps, lines.join('\n')).toHaveLength(STEPS)
  expect(r.tabs.map(t => [t.agent, t.stage])).toEqual([['node', 1], ['node', 1], ['node', 0], ['node', 0]])
  // Both replicas of the last stage (0-based 1) worked (they join first), so the comparison covers
  // the replicas' weight averaging, not one chain. The last to join, the second replica of stage 0,
  // may still be compiling its pipelines when 4 steps end on 2 cores; the first then takes it all.
  expect(r.tabs.filter(t => t.stage === 1).map(t => t.microbatches > 0)).toEqual([true, true])
  expect(d.perStep[0]).toBeLessThan(1e-3)
  expect(d.max).toBeLessThan(0.02)
  // Both learned: the comparison is not between two flat lines.
  expect(b.steps[STEPS - 1].loss).toBeLessThan(b.steps[0].loss - 0.2)
  expect(r.steps[STEPS - 1].loss).toBeLessThan(r.steps[0].loss - 0.2)
  expect(r.microbatches).toMatchObject({ scheduled: 4 * STEPS, completed: 4 * STEPS, lost: 0 })
  expect(b.microbatches).toMatchObject({ completed: 4 * STEPS, lost: 0 })
})
