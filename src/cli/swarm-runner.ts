// Runs a whole swarm on one machine: a real tracker, a campaign, and N headless Chromium
// contexts that open the campaign link and press "Start contributing", exactly as volunteers do,
// plus any number of headless Node volunteers (`tabgrad volunteer <link>` processes) beside them.
// Used by `npm run swarm`, `npm run bench -- swarm` and the swarm e2e tests.
import '../node/polyfills.ts'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright'
import { startTracker, type Tracker } from '../tracker/tracker.ts'
import { demoManifest } from '../campaign/demo.ts'
import type { CampaignManifest } from '../campaign/manifest.ts'
import type { SwarmStatus, TabStats } from '../tracker/swarm/coordinator.ts'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium.ts'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import type { DatasetJobView, UploadedDataset } from '../tracker/dataset-routes.ts'
import { TOKENIZER_VOCAB } from '../tokenizer/tokenizer.ts'
import { startVolunteerProcess, type VolunteerProcess } from '../headless/volunteer-process.ts'

export interface SwarmRunInit {
  tabs: number
  /** Headless Node volunteers beside the tabs; they join after them, one at a time. @default 0 */
  headless?: number
  stages: number
  /** Optimizer steps to run. */
  steps: number
  /** Close tab `tab` (0-based; tabs first, then headless volunteers, which are SIGKILLed) once the swarm reaches optimizer step `step`. */
  kill?: { tab: number, step: number }
  /** Overrides of the demo manifest (model, training…). */
  manifest?: (m: CampaignManifest) => void
  /** The built app. @default 'dist', or the test build 'dist-faults' (npm run build:faults) when there are cheaters */
  staticDir?: string
  /** Progress lines. @default none */
  log?: (line: string) => void
  /** Gives up after this long. @default 15 minutes */
  timeoutMs?: number
  /** Tabs whose worker returns garbage (verification tests; needs the test build). @default none */
  cheaters?: number[]
  /** Stage each tab (then each headless volunteer, with --stage) asks for, as a returning tab does from IndexedDB (the tracker honours it). @default assigned */
  stageHints?: Array<number | undefined>
  /** Extra setup of each page before it opens the link (e.g. an injected wallet). */
  preparePage?: (page: Page, tab: number) => Promise<void>
  /** Called with every status poll (about twice a second), e.g. to sample counters mid-run. */
  onStatus?: (s: SwarmStatus, run: { trackerUrl: string, campaignId: string }) => void
  /** Keep the tracker, browser and pages open after the run (the caller closes them). @default false */
  keepOpen?: boolean
  /** A fine-tuning seed: safetensors with GPT-2 names for the final manifest's model, uploaded and named in `init`. @default none */
  checkpoint?: Uint8Array
  /**
   * The dataset: the demo's byte-level excerpt, or the built-in GPT-2-tokenized corpus (the
   * tracker tokenizes it first; the model's vocabulary becomes GPT-2's). @default 'demo'
   */
  corpus?: 'demo' | 'builtin-gpt2'
}

/** The tracker's built-in GPT-2 corpus, once its tokenization job is done (the first call starts it). */
async function builtinGpt2Corpus (trackerUrl: string, log: (line: string) => void): Promise<UploadedDataset> {
  for (let polls = 0; ; polls++) {
    const { corpora } = await (await fetch(`${trackerUrl}/api/datasets/builtin`)).json() as { corpora: Array<{ tokenizer: string, job: DatasetJobView }> }
    const job = corpora.find(c => c.tokenizer === 'gpt2')?.job
    if (job == null) throw new Error('the tracker offers no built-in GPT-2 corpus')
    if (job.status === 'error') throw new Error(`tokenizing the built-in corpus failed: ${job.error ?? 'unknown error'}`)
    if (job.status === 'done' && job.dataset != null) return job.dataset
    if (polls % 10 === 0) log(`tokenizing the built-in GPT-2 corpus: ${job.done} of ${job.total}`)
    if (polls > 600) throw new Error('tokenizing the built-in corpus took over 5 minutes')
    await new Promise(resolve => setTimeout(resolve, 500))
  }
}

export interface TabReport {
  tab: number
  /** A browser tab, or a headless Node volunteer. */
  agent: 'browser' | 'node'
  peerId: string
  stage: number
  killed: boolean
  busy_fraction: number
  idle_wait_fraction: number
  bytes_sent: number
  bytes_received: number
  flops: number
  microbatches: number
  /** Model FLOP utilization the tab's dashboard showed at the end (null: killed, or not yet known). */
  mfu: number | null
}

export interface SwarmReport {
  config: { tabs: number, headless: number, stages: number, steps: number, model: CampaignManifest['model'], training: CampaignManifest['training'], kill: SwarmRunInit['kill'] | null }
  steps: Array<{ step: number, loss: number }>
  /** Held-out validation loss after the steps that evaluate (campaigns with dataset.validation_tokens). */
  validation: Array<{ step: number, loss: number }>
  microbatches: { scheduled: number, completed: number, retried: number, lost: number }
  tabs: TabReport[]
  tokens: number
  wall_s: number
  tokens_per_second: number
  /** Bytes on the wire per token, per stage boundary (activations forward plus gradients back). */
  bytes_per_token_per_boundary: number
  campaign: string
}

export interface SwarmRun {
  report: SwarmReport
  tracker: Tracker
  /** null for an all-Node swarm (no tabs): no Chromium is started. */
  browser: Browser | null
  pages: Page[]
  campaignId: string
  close(): Promise<void>
}

async function peerIdOf (page: Page): Promise<string> {
  const el = page.getByTestId('tab-dashboard')
  await el.waitFor({ timeout: 120_000 })
  return (await el.getAttribute('data-peer')) ?? ''
}

export async function runSwarm (init: SwarmRunInit): Promise<SwarmRun> {
  const log = init.log ?? (() => {})
  const dataDir = await mkdtemp(join(tmpdir(), 'tabgrad-swarm-'))
  // The cheat switch exists only in the test build: production bundles carry no fault injection.
  const staticDir = init.staticDir ?? ((init.cheaters?.length ?? 0) > 0 ? 'dist-faults' : 'dist')
  if ((init.cheaters?.length ?? 0) > 0 && !existsSync(join(staticDir, 'index.html'))) {
    throw new Error(`cheating tabs need the test build in ${staticDir}/: run \`npm run build:faults\``)
  }
  const tracker = await startTracker({ host: '127.0.0.1', port: 0, relayPort: 0, dataDir, staticDir })
  const corpus = await readFile(join(staticDir, 'datasets/sotu-excerpt.txt'))
  const manifest = demoManifest(createHash('sha256').update(corpus).digest('hex'), corpus.length)
  manifest.name = `Swarm run: ${init.tabs} tabs${(init.headless ?? 0) > 0 ? ` + ${init.headless} headless` : ''}, ${init.stages} stages`
  manifest.stages = init.stages
  manifest.model.n_layer = Math.max(manifest.model.n_layer, init.stages)
  manifest.training.steps = init.steps
  if (init.corpus === 'builtin-gpt2') {
    manifest.dataset = { name: 'State of the Union addresses (GPT-2 tokens)', ...await builtinGpt2Corpus(tracker.url, log) }
    manifest.model.vocab = TOKENIZER_VOCAB.gpt2
  }
  init.manifest?.(manifest)
  if (init.checkpoint != null) {
    const up = await fetch(`${tracker.url}/api/checkpoints`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-model-config': JSON.stringify(manifest.model), authorization: `Bearer ${tracker.adminToken}` }, body: init.checkpoint as Uint8Array<ArrayBuffer> })
    const stored = await up.json() as { sha256?: string, error?: string }
    if (stored.sha256 == null) throw new Error(`checkpoint rejected: ${stored.error ?? `HTTP ${up.status}`}`)
    manifest.init = { sha256: stored.sha256 }
  }
  // As the operator: the runner started this tracker, so it holds its admin token.
  const created = await (await fetch(`${tracker.url}/api/campaigns`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tracker.adminToken}` }, body: JSON.stringify(manifest) })).json() as { id: string, link: string, error?: string }
  if (created.error != null) throw new Error(`campaign rejected: ${created.error}`)
  // The link as the tracker gives it: it pins the tracker's key (campaign/share-link.ts).
  const link = created.link
  log(`tracker ${tracker.url}, campaign ${link}`)

  const headless = init.headless ?? 0
  const nodes: VolunteerProcess[] = []
  const stopNodes = async (): Promise<void> => { await Promise.all(nodes.map(async v => await v.kill('SIGTERM'))) }
  const browser = init.tabs > 0 ? await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true }) : null
  const contexts: BrowserContext[] = []
  const pages: Page[] = []
  const peers: string[] = []
  const started = Date.now()
  const deadline = started + (init.timeoutMs ?? 15 * 60_000)
  const status = async (): Promise<SwarmStatus> => await (await fetch(`${tracker.url}/api/campaigns/${created.id}/swarm`)).json() as SwarmStatus

  try {
    // Tabs join one at a time so each assignment sees the previous ones.
    for (let i = 0; i < init.tabs; i++) {
      const ctx = await browser!.newContext()
      const page = await ctx.newPage()
      page.on('pageerror', err => log(`tab ${i} error: ${err.message}`))
      await init.preparePage?.(page, i)
      await page.goto(link)
      const hint = init.stageHints?.[i]
      if (hint != null) {
        await page.getByTestId('start').waitFor({ timeout: 120_000 })
        await page.evaluate(async ({ key, stage }) => {
          await new Promise<void>((resolve, reject) => {
            const req = indexedDB.open('tabgrad', 1)
            req.onupgradeneeded = () => { if (!req.result.objectStoreNames.contains('kv')) req.result.createObjectStore('kv') }
            req.onerror = () => reject(req.error)
            req.onsuccess = () => {
              const tx = req.result.transaction('kv', 'readwrite')
              tx.objectStore('kv').put({ stage }, key)
              tx.oncomplete = () => { req.result.close(); resolve() }
              tx.onerror = () => reject(tx.error)
            }
          })
        }, { key: `swarm:${created.id}`, stage: hint })
      }
      if (init.cheaters?.includes(i)) {
        await page.getByTestId('start').waitFor()
        await page.evaluate(async () => { await (window as unknown as { __tabgradCheat: (m: string) => Promise<void> }).__tabgradCheat('noise') })
      }
      await page.getByTestId('start').click({ timeout: 120_000 })
      const peerId = await peerIdOf(page)
      const stage = await page.getByTestId('my-stage').getAttribute('data-stage', { timeout: 120_000 })
      log(`tab ${i} joined: ${peerId.slice(-8)} → stage ${stage}`)
      contexts.push(ctx)
      pages.push(page)
      peers.push(peerId)
    }

    // Headless volunteers, each with its own data dir (key, checkpoint), joining one at a time too.
    for (let i = 0; i < headless; i++) {
      const n = init.tabs + i
      const hint = init.stageHints?.[n]
      const v = startVolunteerProcess([link, '--data-dir', join(dataDir, `volunteer-${i}`), ...(hint != null ? ['--stage', String(hint + 1)] : [])], { onLine: line => { if (/ error| failed|: error/.test(line)) log(`volunteer ${n}: ${line}`) } })
      nodes.push(v)
      const peerId = (await v.waitFor(/PeerId (12D3\w+)/))[1]
      let stage: number | undefined
      while (stage == null) {
        if (Date.now() > deadline || v.child.exitCode != null) throw new Error(`headless volunteer ${n} did not join:\n${v.output()}`)
        stage = (await status()).stages.find(st => st.replicas.some(r => r.peerId === peerId))?.stage
        if (stage == null) await new Promise(resolve => setTimeout(resolve, 250))
      }
      log(`volunteer ${n} (headless) joined: ${peerId.slice(-8)} → stage ${stage}`)
      peers.push(peerId)
    }

    const lastStats = new Map<string, TabStats & { stage: number }>()
    const killed = new Set<number>()
    let s = await status()
    let lastLine = ''
    while (!s.done) {
      init.onStatus?.(s, { trackerUrl: tracker.url, campaignId: created.id })
      if (Date.now() > deadline) throw new Error(`swarm did not finish ${init.steps} steps in time (at step ${s.step})`)
      for (const st of s.stages) for (const r of st.replicas) lastStats.set(r.peerId, { ...r, stage: st.stage })
      if (init.kill != null && !killed.has(init.kill.tab) && s.step >= init.kill.step) {
        killed.add(init.kill.tab)
        log(`killing ${init.kill.tab < init.tabs ? 'tab' : 'headless volunteer'} ${init.kill.tab} (${peers[init.kill.tab].slice(-8)}) at step ${s.step}`)
        if (init.kill.tab < init.tabs) await contexts[init.kill.tab].close()
        else await nodes[init.kill.tab - init.tabs].kill('SIGKILL')
      }
      const loss = s.losses.at(-1)
      const val = s.validation?.at(-1)
      const line = `step ${s.step}/${init.steps}  loss ${loss?.loss.toFixed(4) ?? '–'}${val != null ? `  validation ${val.loss.toFixed(4)} (after step ${val.step})` : ''}  microbatches ${s.microbatches.completed} done, ${s.microbatches.in_flight} in flight, ${s.microbatches.retried} retried  stages [${s.stages.map(st => st.replicas.length).join(' ')}]`
      if (line !== lastLine) { log(line); lastLine = line }
      await new Promise(resolve => setTimeout(resolve, 500))
      s = await status()
    }
    const wall0 = (Date.now() - started) / 1000
    // Tab counters reach the tracker with heartbeats (every 2 s): wait for one more round.
    await new Promise(resolve => setTimeout(resolve, 2500))
    s = await status()
    for (const st of s.stages) for (const r of st.replicas) lastStats.set(r.peerId, { ...r, stage: st.stage })

    const wall = wall0
    const B = manifest.training.microbatch
    const T = manifest.training.seq_len
    const tokens = s.microbatches.completed * B * T
    const mfus = await Promise.all(pages.map(async (p, tab) => killed.has(tab) ? null : await p.getByTestId('mfu').getAttribute('data-mfu', { timeout: 5_000 }).catch(() => null)))
    const tabs: TabReport[] = peers.map((peerId, tab) => {
      const st = lastStats.get(peerId)
      const mfu = Number(mfus[tab] ?? NaN)
      return {
        tab, agent: tab < init.tabs ? 'browser' : 'node', peerId, stage: st?.stage ?? -1, killed: killed.has(tab),
        busy_fraction: st?.busy_fraction ?? 0, idle_wait_fraction: st?.idle_wait_fraction ?? 0,
        bytes_sent: st?.bytes_sent ?? 0, bytes_received: st?.bytes_received ?? 0, flops: st?.flops ?? 0, microbatches: st?.microbatches ?? 0,
        mfu: Number.isFinite(mfu) ? mfu : null
      }
    })
    const wireBytes = tabs.reduce((n, t) => n + t.bytes_sent, 0)
    const report: SwarmReport = {
      config: { tabs: init.tabs, headless, stages: init.stages, steps: init.steps, model: manifest.model, training: manifest.training, kill: init.kill ?? null },
      steps: s.losses.map(l => ({ step: l.step, loss: l.loss })),
      validation: (s.validation ?? []).map(v => ({ step: v.step, loss: v.loss })),
      // Re-leases (tracker) plus re-routes to another replica (stage-0 tabs).
      microbatches: { scheduled: s.microbatches.scheduled, completed: s.microbatches.completed, retried: s.microbatches.retried + [...lastStats.values()].reduce((n, t) => n + (t.retried ?? 0), 0), lost: s.microbatches.lost },
      tabs,
      tokens,
      wall_s: wall,
      tokens_per_second: tokens / wall,
      bytes_per_token_per_boundary: init.stages > 1 && tokens > 0 ? wireBytes / tokens / (init.stages - 1) : 0,
      campaign: created.id
    }
    const close = async (): Promise<void> => {
      await stopNodes()
      await browser?.close().catch(() => {})
      await tracker.close().catch(() => {})
      await rm(dataDir, { recursive: true, force: true }).catch(() => {})
    }
    if (init.keepOpen !== true) await close()
    return { report, tracker, browser, pages, campaignId: created.id, close }
  } catch (err) {
    await stopNodes()
    await browser?.close().catch(() => {})
    await tracker.close().catch(() => {})
    await rm(dataDir, { recursive: true, force: true }).catch(() => {})
    throw err
  }
}
