// `npm run bench -- tracker [--tabs 100,300,1000] [--seconds 60] [--out FILE]`: the real tracker
// (a child process, as `npm start` runs it) under N simulated tabs, each doing a real tab's
// request mix through the HTTP API: join, a heartbeat and a status poll (with its ETag) every
// 2 s like the app, and on stage 0 lease → complete with four real Ed25519 receipt signatures,
// the last stage reporting the loss. Reports p50/p99 latency per request kind, requests/s, the
// tracker's CPU share and resident memory over time, per N; writes bench/results/tracker.json.
import '../node/polyfills.ts'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { demoManifest, DEMO_DATASET_PATH } from '../campaign/demo.ts'
import { creditTable } from '../tracker/campaign-ledgers.ts'
import { countersign, signAsSender } from '../ledger/receipt.ts'
import { signCall } from '../identity/swarm-call-signature.ts'
import { serverTimingMs } from '../tracker/server-timing.ts'

const USAGE = 'usage: npm run bench -- tracker [--tabs 100,300,1000] [--seconds 60] [--warmup 10] [--out FILE]'
const TICK_MS = 2000 // the app's heartbeat and status poll interval (swarm-tab.ts, swarm.svelte.ts)
const KINDS = ['join', 'heartbeat', 'status', 'lease', 'complete', 'loss'] as const
type Kind = typeof KINDS[number]

// ---- the tracker process and its resource use
interface TrackerChild { url: string, child: ChildProcess, dataDir: string, adminToken: string }

async function startTracker (): Promise<TrackerChild> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tabgrad-bench-tracker-'))
  // The bench is the operator: it creates its campaign with the admin token, as `curl` would.
  const adminToken = randomBytes(24).toString('hex')
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './src/node/register.ts', 'src/tracker/main.ts', '--port', '0', '--static-dir', 'public', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TABGRAD_ADMIN_TOKEN: adminToken } })
  let out = ''
  child.stdout!.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr!.on('data', (b: Buffer) => { out += b.toString() })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /tabgrad tracker (http:\/\/\S+)/.exec(out)
      if (m != null) { clearInterval(timer); resolve(m[1]) }
    }, 50)
    child.once('exit', code => { clearInterval(timer); reject(new Error(`tracker exited with ${code}: ${out}`)) })
  })
  return { url, child, dataDir, adminToken }
}

/** CPU seconds (user + system) and resident MiB of a process, from /proc. */
async function usage (pid: number): Promise<{ cpuS: number, rssMiB: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ')
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return { cpuS: (Number(stat[11]) + Number(stat[12])) / 100, rssMiB: rssKiB / 1024 }
}

// ---- HTTP with per-kind latency
class Client {
  readonly lat = new Map<Kind, number[]>(KINDS.map(k => [k, []]))
  /** The tracker's own time per request (its Server-Timing header): latency without the client's queueing. */
  readonly server = new Map<Kind, number[]>(KINDS.map(k => [k, []]))
  readonly errors = new Map<string, number>()
  recording = false
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 2048 })
  readonly #base: URL
  constructor (url: string) { this.#base = new URL(url) }

  /** `signer`: the tab whose key signs this swarm call, as the app signs its calls. */
  async call (kind: Kind, path: string, body?: unknown, headers: Record<string, string> = {}, signer?: PrivateKey): Promise<{ status: number, json: any, etag?: string }> {
    if (signer != null) headers = { ...headers, ...await signCall(signer, { method: 'POST', path, peerId: peerIdFromPrivateKey(signer).toString(), time: Date.now(), body }) }
    try {
      return await this.#once(kind, path, body, headers)
    } catch (err) {
      // A browser retries once when a reused keep-alive connection was closed under it.
      if ((err as { code?: string }).code !== 'ECONNRESET') throw err
      this.errors.set('retried after reset', (this.errors.get('retried after reset') ?? 0) + 1)
      return await this.#once(kind, path, body, headers)
    }
  }

  async #once (kind: Kind, path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number, json: any, etag?: string }> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
    const t0 = performance.now()
    return await new Promise((resolve, reject) => {
      const req = request({
        agent: this.#agent, host: this.#base.hostname, port: this.#base.port, path, method: payload == null ? 'GET' : 'POST',
        headers: { ...headers, ...(payload != null ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) }
      }, res => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          if (this.recording) {
            this.lat.get(kind)!.push(performance.now() - t0)
            const own = serverTimingMs(res.headers['server-timing'])
            if (own != null) this.server.get(kind)!.push(own)
          }
          const status = res.statusCode ?? 0
          if (status >= 400 && this.recording) this.errors.set(`${kind} ${status}`, (this.errors.get(`${kind} ${status}`) ?? 0) + 1)
          // Status bodies (gzipped, ~100 KiB at 1,000 tabs) are not needed here: only their ETag.
          const text = res.headers['content-encoding'] === 'gzip' ? '' : Buffer.concat(chunks).toString()
          resolve({ status, json: text === '' ? null : JSON.parse(text), etag: res.headers.etag })
        })
      })
      req.on('error', reject)
      req.end(payload)
    })
  }

  close (): void { this.#agent.destroy() }
}

const pct = (xs: number[], p: number): number | null => {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))] * 100) / 100
}

// ---- one simulated tab
interface Tab { key: PrivateKey, id: string, stage: number, etag?: string }

async function runTab (tab: Tab, c: Client, campaign: string, downstream: Tab[], flops: ReturnType<typeof creditTable>, stop: () => boolean): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, Math.random() * TICK_MS))
  while (!stop()) {
    const started = performance.now()
    await tick(tab, c, campaign, downstream, flops).catch((err: Error) => {
      c.errors.set(`failed: ${err.message}`, (c.errors.get(`failed: ${err.message}`) ?? 0) + 1)
    })
    await new Promise(resolve => setTimeout(resolve, Math.max(0, TICK_MS - (performance.now() - started))))
  }
}

/** One 2-second round of a tab: heartbeat, status poll, and on stage 0 a lease and its completion. */
async function tick (tab: Tab, c: Client, campaign: string, downstream: Tab[], flops: ReturnType<typeof creditTable>): Promise<void> {
  const base = `/api/campaigns/${campaign}`
  const hb = await c.call('heartbeat', `${base}/heartbeat`, { peerId: tab.id, stats: { throughput: 1, busy: 0.5 } }, {}, tab.key)
  // A tab the tracker timed out joins again, as the app does (swarm-tab.ts).
  if (hb.status === 409) tab.stage = (await c.call('join', `${base}/join`, { peerId: tab.id, throughput: 1, stage: tab.stage }, {}, tab.key)).json.stage
  // Like a browser: gzip accepted, the cached body revalidated with its ETag.
  const st = await c.call('status', `${base}/swarm`, undefined, { 'accept-encoding': 'gzip', ...(tab.etag != null ? { 'if-none-match': tab.etag } : {}) })
  if (st.etag != null) tab.etag = st.etag
  if (tab.stage !== 0) return
  const { json } = await c.call('lease', `${base}/lease`, { peerId: tab.id, max: 1 }, {}, tab.key)
  for (const l of (json?.leases ?? []) as Array<{ id: number }>) {
    const next = downstream[Math.floor(Math.random() * downstream.length)]
    if (next == null) break
    const mb = l.id
    const receipts = [
      await countersign(await signAsSender({ campaign, microbatch: mb, stage: 0, direction: 'fwd', flops: flops[0].forward, inDigest: 'in', outDigest: 'act', from: tab.id, to: next.id }, tab.key), next.key),
      await countersign(await signAsSender({ campaign, microbatch: mb, stage: 1, direction: 'bwd', flops: flops[1].backward + flops[1].forward, inDigest: 'act', outDigest: 'grad', from: next.id, to: tab.id }, next.key), tab.key)
    ]
    await c.call('loss', `${base}/loss`, { peerId: next.id, microbatch: mb, loss: 3 + Math.random() }, {}, next.key)
    await c.call('complete', `${base}/complete`, { peerId: tab.id, microbatch: mb, receipts }, {}, tab.key)
  }
}

// ---- one run at N tabs
async function runAt (n: number, seconds: number, warmup: number): Promise<Record<string, unknown>> {
  const tracker = await startTracker()
  const c = new Client(tracker.url)
  try {
    const demo = await readFile(join('public', DEMO_DATASET_PATH))
    const m = demoManifest(createHash('sha256').update(demo).digest('hex'), demo.length)
    m.name = `tracker bench ${n}`
    m.stages = 2
    m.training.accumulation = 64
    m.training.steps = 1_000_000
    m.spot_check_rate = 0
    const created = await c.call('join', '/api/campaigns', m, { authorization: `Bearer ${tracker.adminToken}` })
    if (created.status !== 201) throw new Error(`campaign rejected (${created.status}): ${JSON.stringify(created.json)}`)
    const campaign = created.json.id as string
    const flops = creditTable(m)
    const tabs: Tab[] = await Promise.all(Array.from({ length: n }, async () => {
      const key = await generateKeyPair('Ed25519')
      return { key, id: peerIdFromPrivateKey(key).toString(), stage: -1 }
    }))
    c.recording = true
    for (const t of tabs) t.stage = (await c.call('join', `/api/campaigns/${campaign}/join`, { peerId: t.id, throughput: 1 }, {}, t.key)).json.stage
    let stopped = false
    const downstream = tabs.filter(t => t.stage === 1)
    const loops = tabs.map(async t => { await runTab(t, c, campaign, downstream, flops, () => stopped) })
    c.recording = false
    await new Promise(resolve => setTimeout(resolve, warmup * 1000))
    for (const k of KINDS) if (k !== 'join') c.lat.set(k, [])
    c.recording = true
    const pid = tracker.child.pid!
    const u0 = await usage(pid)
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const rss: number[] = [u0.rssMiB]
    const step0 = (await c.call('status', `/api/campaigns/${campaign}/swarm`)).json.step as number
    const sampler = setInterval(() => { void usage(pid).then(u => { rss.push(u.rssMiB) }) }, 5000)
    await new Promise(resolve => setTimeout(resolve, seconds * 1000))
    clearInterval(sampler)
    const elapsed = (performance.now() - t0) / 1000
    const u1 = await usage(pid)
    const cpu1 = process.cpuUsage(cpu0)
    c.recording = false
    const end = (await c.call('status', `/api/campaigns/${campaign}/swarm`)).json
    stopped = true
    await Promise.all(loops)
    const all = KINDS.flatMap(k => c.lat.get(k)!)
    const byKind = Object.fromEntries(KINDS.map(k => [k, { count: c.lat.get(k)!.length, p50_ms: pct(c.lat.get(k)!, 0.5), p99_ms: pct(c.lat.get(k)!, 0.99), tracker_p99_ms: pct(c.server.get(k)!, 0.99) }]))
    const own = KINDS.flatMap(k => c.server.get(k)!)
    rss.push(u1.rssMiB)
    return {
      tabs: n,
      seconds: Math.round(elapsed),
      requests: all.length,
      requests_per_s: Math.round(all.length / elapsed),
      latency_ms: { p50: pct(all, 0.5), p99: pct(all, 0.99), max: pct(all, 1) },
      // Arrival to response headers inside the tracker (Server-Timing), without client-side queueing.
      tracker_latency_ms: { p50: pct(own, 0.5), p99: pct(own, 0.99), max: pct(own, 1) },
      by_kind: byKind,
      steps_completed: end.step - step0,
      microbatches_completed: end.microbatches?.completed,
      tracker_cpu_fraction: Math.round((u1.cpuS - u0.cpuS) / elapsed * 1000) / 1000,
      tracker_rss_mib: { start: Math.round(rss[0]), end: Math.round(u1.rssMiB), max: Math.round(Math.max(...rss)), samples: rss.map(Math.round) },
      client_cpu_fraction: Math.round((cpu1.user + cpu1.system) / 1e6 / elapsed * 1000) / 1000,
      // The machine's 1-minute load at the end: other jobs share these cores and inflate latency.
      load_average_1m: Math.round(loadavg()[0] * 100) / 100,
      errors: Object.fromEntries(c.errors)
    }
  } finally {
    c.close()
    tracker.child.kill('SIGTERM')
    await new Promise(resolve => tracker.child.once('exit', resolve))
    await rm(tracker.dataDir, { recursive: true, force: true })
  }
}

export async function benchTrackerMain (argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { tabs: { type: 'string' }, seconds: { type: 'string' }, warmup: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' } } })
  if (values.help === true) { console.log(USAGE); return 0 }
  const ns = (values.tabs ?? '100,300,1000').split(',').map(Number)
  const seconds = Number(values.seconds ?? 60)
  const warmup = Number(values.warmup ?? 10)
  if (ns.some(n => !Number.isInteger(n) || n < 2 || n > 5000) || !(seconds > 0) || !(warmup >= 0)) { console.error(USAGE); return 2 }
  const runs = []
  for (const n of ns) {
    console.log(`tracker bench: ${n} tabs for ${seconds} s (after ${warmup} s warm-up)…`)
    const r = await runAt(n, seconds, warmup)
    const lat = r.latency_ms as { p50: number, p99: number }
    const rss = r.tracker_rss_mib as { start: number, end: number, max: number }
    console.log(`  ${r.requests_per_s} req/s, p50 ${lat.p50} ms, p99 ${lat.p99} ms, tracker CPU ${r.tracker_cpu_fraction}, RSS ${rss.start}→${rss.end} MiB (max ${rss.max}), ${r.steps_completed} steps`)
    runs.push(r)
  }
  const out = values.out ?? 'bench/results/tracker.json'
  await mkdir(dirname(out), { recursive: true })
  await writeFile(out, JSON.stringify({
    bench: 'tracker',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, node: process.version },
    setup: 'tracker child process (npm start without the build); simulated tabs in the bench process over keep-alive HTTP; per tab every 2 s: heartbeat + status poll with If-None-Match; stage-0 tabs also lease 1 microbatch and complete it with 2 countersigned receipts (4 Ed25519 signatures) after the last stage reports its loss; campaign of 2 stages, accumulation 64',
    runs
  }, null, 2) + '\n')
  console.log(`wrote ${out}`)
  return 0
}
