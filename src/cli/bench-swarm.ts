// `npm run bench -- swarm [--steps K] [--config tiny|reference] [--out FILE]`: a single-tab
// baseline and a 2 stages × 2 replicas swarm of headless Chromium tabs train the same model on the
// same data in one run; writes bench/results/swarm.json with tokens/s, per-tab busy fraction,
// idle-waiting in the middle third of the run, bytes on the wire per token per stage boundary, and
// the swarm's loss against the baseline's after equal tokens. `--headless` adds the same swarm of
// headless Node volunteers (Dawn, node-datachannel) and writes bench/results/swarm-headless.json.
import '../node/polyfills.ts'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { runSwarm, type SwarmReport } from './swarm-runner.ts'
import type { CampaignManifest } from '../campaign/manifest.ts'
import type { SwarmStatus } from '../tracker/swarm/coordinator.ts'

const USAGE = 'usage: npm run bench -- swarm [--steps K] [--config tiny|reference] [--headless] [--out FILE]'

/**
 * d=256, 4 layers, 4 heads, T=128, B=4 (the issue's reference config), or the demo's tiny model;
 * 2 stages, 4 microbatches a step, replicas averaged every step, no clipping, no spot checks.
 * Also the e2e comparisons' settings (e2e/baseline.spec.ts, e2e/headless.spec.ts).
 */
export function configure (m: CampaignManifest, config: string, steps: number): void {
  m.stages = 2
  m.training.steps = steps
  m.training.accumulation = 4
  m.training.sync_every = 1
  m.training.grad_clip = 0 // per-stage clipping differs from one tab's global clipping
  m.spot_check_rate = 0 // measure training, not verification
  if (config === 'reference') {
    m.model = { vocab: 256, d_model: 256, n_layer: 4, n_head: 4, n_ctx: 128 }
    m.training.seq_len = 128
    m.training.microbatch = 4
    m.training.lr = 1e-3
  }
}

interface Counters { busy_ms: number, idle_ms: number, wall_ms: number }

function countersByPeer (s: SwarmStatus): Map<string, Counters> {
  const out = new Map<string, Counters>()
  for (const st of s.stages) for (const r of st.replicas) out.set(r.peerId, { busy_ms: r.busy_ms ?? 0, idle_ms: r.idle_ms ?? 0, wall_ms: r.wall_ms ?? 0 })
  return out
}

export interface SwarmBench {
  config: string
  baseline: Pick<SwarmReport, 'steps' | 'tokens' | 'wall_s' | 'tokens_per_second'>
  swarm: SwarmReport & { mid_run_idle_wait_fraction: Record<string, number> }
  tokens_per_second_ratio: number
  final_loss_relative_difference: number
  max_step_loss_relative_difference: number
  /** The same swarm of headless Node volunteers (with --headless). */
  headless?: {
    swarm: SwarmReport & { mid_run_idle_wait_fraction: Record<string, number> }
    /** Against the single-tab baseline, and against the browser swarm. */
    tokens_per_second_ratio: number
    tokens_per_second_ratio_to_browser_swarm: number
    final_loss_relative_difference: number
    max_step_loss_relative_difference: number
  }
}

/** 4 volunteers, 2 stages × 2 replicas: tabs, or headless Node volunteers. */
async function measureSwarm (opts: { steps: number, config: string, headless: boolean, log: (l: string) => void }): Promise<SwarmReport & { mid_run_idle_wait_fraction: Record<string, number> }> {
  const log = opts.log
  // Sample the volunteers' counters at one and two thirds of the run: idle-waiting in the middle.
  const marks: Array<Map<string, Counters>> = []
  log(`swarm: 4 ${opts.headless ? 'headless Node volunteers' : 'tabs'}, 2 stages × 2 replicas, ${opts.steps} steps`)
  const swarm = await runSwarm({
    tabs: opts.headless ? 0 : 4,
    headless: opts.headless ? 4 : 0,
    stages: 2,
    steps: opts.steps,
    stageHints: [1, 1, 0, 0], // stage 0 last: training starts with every replica in
    manifest: m => { configure(m, opts.config, opts.steps) },
    log,
    // Tabs' own errors go to the log, so a stall shows its cause.
    preparePage: async (page, i) => {
      await page.addInitScript(() => { localStorage.setItem('debug', 'tabgrad:swarm') })
      page.on('console', m => { if (m.type() === 'error' || /failed|refused|re-routing/.test(m.text())) log(`[tab ${i}] ${m.text().slice(0, 240)}`) })
    },
    onStatus: s => {
      const want = marks.length === 0 ? opts.steps / 3 : 2 * opts.steps / 3
      if (marks.length < 2 && s.step >= want) marks.push(countersByPeer(s))
    }
  })
  const mid: Record<string, number> = {}
  if (marks.length === 2) {
    for (const [peer, b] of marks[1]) {
      const a = marks[0].get(peer)
      if (a == null || b.wall_ms <= a.wall_ms) continue
      mid[peer] = (b.idle_ms - a.idle_ms) / (b.wall_ms - a.wall_ms)
    }
  }
  return { ...swarm.report, mid_run_idle_wait_fraction: mid }
}

/**
 * A swarm's loss against a baseline's at equal tokens (the same step: every step is the same
 * number of microbatches): relative difference at the last common step, and the worst step's.
 */
export function lossDifference (r: Pick<SwarmReport, 'steps'>, base: Pick<SwarmReport, 'steps'>): { final: number, max: number, perStep: number[] } {
  const rel = (x: number, y: number): number => Math.abs(x - y) / Math.abs(y)
  const steps = Math.min(base.steps.length, r.steps.length)
  const perStep = Array.from({ length: steps }, (_, i) => rel(r.steps[i].loss, base.steps[i].loss))
  return { final: perStep[steps - 1] ?? NaN, max: Math.max(0, ...perStep), perStep }
}

export async function benchSwarm (opts: { steps: number, config: string, headless?: boolean, log?: (l: string) => void }): Promise<SwarmBench> {
  const log = opts.log ?? (() => {})
  log(`baseline: 1 tab, 1 stage, ${opts.steps} steps`)
  const base = await runSwarm({ tabs: 1, stages: 1, steps: opts.steps, manifest: m => { configure(m, opts.config, opts.steps); m.stages = 1 }, log })
  const swarm = { report: await measureSwarm({ steps: opts.steps, config: opts.config, headless: false, log }) }
  const lossDiff = (r: SwarmReport): { final: number, max: number } => lossDifference(r, base.report)
  const d = lossDiff(swarm.report)
  let headless: SwarmBench['headless']
  if (opts.headless === true) {
    const h = await measureSwarm({ steps: opts.steps, config: opts.config, headless: true, log })
    const hd = lossDiff(h)
    headless = {
      swarm: h,
      tokens_per_second_ratio: h.tokens_per_second / base.report.tokens_per_second,
      tokens_per_second_ratio_to_browser_swarm: h.tokens_per_second / swarm.report.tokens_per_second,
      final_loss_relative_difference: hd.final,
      max_step_loss_relative_difference: hd.max
    }
  }
  return {
    config: opts.config,
    baseline: { steps: base.report.steps, tokens: base.report.tokens, wall_s: base.report.wall_s, tokens_per_second: base.report.tokens_per_second },
    swarm: swarm.report,
    tokens_per_second_ratio: swarm.report.tokens_per_second / base.report.tokens_per_second,
    final_loss_relative_difference: d.final,
    max_step_loss_relative_difference: d.max,
    ...(headless != null ? { headless } : {})
  }
}

export async function benchSwarmMain (argv: string[]): Promise<number> {
  let values
  try {
    values = parseArgs({ args: argv, options: { steps: { type: 'string' }, config: { type: 'string' }, out: { type: 'string' }, headless: { type: 'boolean' } } }).values
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const steps = Number(values.steps ?? 12)
  const config = values.config ?? 'tiny'
  if (!Number.isInteger(steps) || steps < 3 || !['tiny', 'reference'].includes(config)) {
    console.error(`--steps must be an integer ≥ 3 and --config tiny or reference\n${USAGE}`)
    return 2
  }
  const headless = values.headless === true
  const out = values.out ?? (headless ? 'bench/results/swarm-headless.json' : 'bench/results/swarm.json')
  const r = await benchSwarm({ steps, config, headless, log: l => { console.log(l) } })
  await mkdir(dirname(out), { recursive: true })
  await writeFile(out, JSON.stringify({ date: new Date().toISOString(), ...r }, null, 2))
  console.log(`\nbaseline ${r.baseline.tokens_per_second.toFixed(0)} tokens/s; swarm ${r.swarm.tokens_per_second.toFixed(0)} tokens/s (×${r.tokens_per_second_ratio.toFixed(2)})`)
  console.log(`loss after ${steps} steps: baseline ${r.baseline.steps.at(-1)?.loss.toFixed(4)}, swarm ${r.swarm.steps.at(-1)?.loss.toFixed(4)} (${(100 * r.final_loss_relative_difference).toFixed(2)}% apart; worst step ${(100 * r.max_step_loss_relative_difference).toFixed(2)}%)`)
  for (const t of r.swarm.tabs) console.log(`  tab ${t.tab} stage ${t.stage}: busy ${(100 * t.busy_fraction).toFixed(0)}%, idle-wait mid-run ${(100 * (r.swarm.mid_run_idle_wait_fraction[t.peerId] ?? NaN)).toFixed(0)}%`)
  console.log(`bytes per token per stage boundary: ${r.swarm.bytes_per_token_per_boundary.toFixed(0)}`)
  const h = r.headless
  if (h != null) {
    console.log(`headless Node swarm ${h.swarm.tokens_per_second.toFixed(0)} tokens/s (×${h.tokens_per_second_ratio.toFixed(2)} of the baseline, ×${h.tokens_per_second_ratio_to_browser_swarm.toFixed(2)} of the browser swarm); loss ${(100 * h.final_loss_relative_difference).toFixed(2)}% from the baseline's (worst step ${(100 * h.max_step_loss_relative_difference).toFixed(2)}%)`)
    for (const t of h.swarm.tabs) console.log(`  node ${t.tab} stage ${t.stage}: busy ${(100 * t.busy_fraction).toFixed(0)}%, idle-wait mid-run ${(100 * (h.swarm.mid_run_idle_wait_fraction[t.peerId] ?? NaN)).toFixed(0)}%`)
  }
  console.log(`wrote ${out}`)
  return 0
}
