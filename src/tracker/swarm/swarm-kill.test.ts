// The real tracker process killed with SIGKILL while stage-0 tabs complete microbatches as fast
// as they can: after a restart on the same data directory no acknowledged credit is lost, no
// microbatch is in the ledger twice, the step is where the ledger puts it (and not behind what
// the tabs were told), and a peer flagged before the kill keeps a share of 0.
import { afterAll, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTracker } from '../tracker.ts'
import { call, createCampaign, spotOutput, spotVote, get, newTab, routeReceipts, twoStageManifest, type TestTab, type TrackerAt } from './swarm-test-kit.ts'

const cleanup: Array<() => Promise<void>> = []
afterAll(async () => { for (const c of cleanup.reverse()) await c() })

/** `npm start` as a child process; resolves with the parts of a Tracker the test kit uses. */
async function spawnTracker (dataDir: string): Promise<{ tracker: TrackerAt, kill: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/tracker/main.ts', '--port', '0', '--relay-port', '0', '--data-dir', dataDir, '--static-dir', 'public'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOST: '127.0.0.1' } })
  let out = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr.on('data', (b: Buffer) => { out += b.toString() })
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  const [url, token] = await new Promise<[string, string]>((resolve, reject) => {
    const poll = setInterval(() => {
      const m = /tabgrad tracker (http:\/\/\S+)[^]*operator sign-in[^:]*: \S+token=(\S+)/.exec(out)
      if (m != null) { clearInterval(poll); resolve([m[1], m[2]]) }
    }, 50)
    void exited.then(() => { clearInterval(poll); reject(new Error(`tracker exited:\n${out}`)) })
  })
  const kill = async (): Promise<void> => { if (child.exitCode == null && child.signalCode == null) { child.kill('SIGKILL'); await exited } }
  cleanup.push(kill)
  return { tracker: { url, adminToken: token }, kill }
}

it('loses and duplicates nothing when killed mid-append under load; the step holds and a flagged share stays 0', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tabgrad-swarm-kill-'))
  cleanup.push(async () => { await rm(dir, { recursive: true, force: true }) })
  const m = twoStageManifest('Kill test', { spotChecked: true })
  m.training.steps = 1000
  const child = await spawnTracker(dir)
  const t = child.tracker
  const id = await createCampaign(t, m)
  const s0: TestTab[] = await Promise.all(Array.from({ length: 4 }, newTab))
  const [b, x, y, z] = await Promise.all([newTab(), newTab(), newTab(), newTab()])
  for (const tab of s0) await call(t, id, tab, 'join', { stage: 0 })
  for (const tab of [b, x, y, z]) await call(t, id, tab, 'join', { stage: 1 })
  for (const tab of [...s0, b, x, y, z]) await call(t, id, tab, 'heartbeat', { stats: {} })

  // z earns credit for microbatch 0, then a spot check flags it.
  await call(t, id, s0[0], 'lease', { max: 1 })
  expect((await call(t, id, s0[0], 'complete', { microbatch: 0, receipts: await routeReceipts(m, id, 0, s0[0], z) })).json.credited).toBe(true)
  const spot = { microbatch: 0, stage: 1, step: 0, weightsDigest: 'f'.repeat(64) }
  await spotVote(t, id, x, { ...spot, output: spotOutput([1]) })
  await spotVote(t, id, y, { ...spot, output: spotOutput([1]) })
  expect((await spotVote(t, id, z, { ...spot, output: spotOutput([7]) })).json.verdicts).toContainEqual({ peerId: z.id, verdict: 'flagged' })

  // Load: every stage-0 tab leases and completes in a loop; the kill lands while calls are in flight.
  const acked = new Set<number>()
  let toldStep = 0
  let killed = false
  const work = s0.map(async tab => {
    let leases: Array<{ id: number }> = []
    while (!killed) {
      try {
        if (leases.length === 0) leases = (await call(t, id, tab, 'lease', { max: 2 })).json.leases ?? []
        const l = leases.shift()
        if (l == null) continue
        const r = await call(t, id, tab, 'complete', { microbatch: l.id, receipts: await routeReceipts(m, id, l.id, tab, b), window: leases.length === 0 ? 2 : 0 })
        if (r.json.credited === true) acked.add(l.id)
        if (typeof r.json.step === 'number') toldStep = Math.max(toldStep, r.json.step)
        leases.push(...(r.json.leases ?? []))
      } catch { return } // the tracker died under this call
    }
  })
  while (acked.size < 40) await new Promise(resolve => setTimeout(resolve, 10))
  await child.kill()
  killed = true
  await Promise.all(work)

  const again = await startTracker({ host: '127.0.0.1', port: 0, relayPort: 0, dataDir: dir, staticDir: 'public' })
  cleanup.push(async () => { await again.close() })
  const ledger = await get(again, `/api/campaigns/${id}/ledger?limit=500`)
  const credited = ledger.entries.map((e: { entry: { microbatch: number } }) => e.entry.microbatch) as number[]
  expect(new Set(credited).size).toBe(credited.length)
  for (const mb of acked) expect(credited).toContain(mb)
  // The step is the first one the ledger does not hold whole; the tabs were never told a later one.
  const A = m.training.accumulation
  let step = 0
  while (Array.from({ length: A }, (_, i) => step * A + i).every(mb => credited.includes(mb))) step++
  expect((await get(again, `/api/campaigns/${id}/swarm`)).step).toBe(step)
  expect(step).toBeGreaterThanOrEqual(toldStep)
  const own = await get(again, `/api/campaigns/${id}/ownership`)
  expect(own.holders.find((h: { address: string }) => h.address === z.id)?.share ?? 0).toBe(0)
  expect(own.holders.find((h: { address: string }) => h.address === b.id).share).toBeGreaterThan(0)
}, 60_000)
