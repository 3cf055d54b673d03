// `npm run sim -- --peers N --stages S --hours H --churn C [--seed X] [--json out.json]
//   [--scaling 10,100,1000] [--ideal-network]`
// Runs the discrete-event swarm simulator (src/sim/world.ts) and prints its report; --scaling
// adds a table of runs at other peer counts (same stages, hours and churn).
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { intFlag, parseFlags, UsageError } from './args.ts'
import { simulate, type SimInit, type SimResult } from '../sim/world.ts'
import type { GPTConfig } from '../model/config.ts'

const USAGE = 'usage: npm run sim -- --peers N --stages S --hours H --churn C [--seed X] [--json out.json] [--scaling 10,100,1000] [--scaling-hours H] [--lookahead L] [--inflight M] [--wire-bytes B]'

/**
 * The simulated model: a 64-layer GPT (d_model 1024, ~0.9 B parameters), 2 layers per stage at
 * 32 stages, microbatches of 1 × 1024 tokens — what a browser tab can hold: a stage's weights,
 * gradients and Adam state take ~0.4 GB and one activation slot ~0.2 GB.
 */
export const SIM_MODEL: GPTConfig = { vocab: 50304, d_model: 1024, n_layer: 64, n_head: 16, n_ctx: 1024 }

function numFlag (flags: Map<string, string | true>, name: string, fallback: number): number {
  const v = flags.get(name)
  if (v == null) return fallback
  const n = Number(v)
  if (typeof v !== 'string' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number ≥ 0, got "${String(v)}"\n${USAGE}`)
  return n
}

export function simInit (flags: Map<string, string | true>): SimInit {
  const peers = intFlag(flags, 'peers', undefined, USAGE)
  const stages = intFlag(flags, 'stages', undefined, USAGE)
  if (stages > SIM_MODEL.n_layer) throw new UsageError(`--stages must be at most ${SIM_MODEL.n_layer}\n${USAGE}`)
  if (peers < stages) throw new UsageError(`--peers must be at least --stages (${stages}): every stage needs a volunteer\n${USAGE}`)
  const hours = numFlag(flags, 'hours', 1)
  if (hours <= 0 || hours > 24) throw new UsageError(`--hours must be in (0, 24]\n${USAGE}`)
  return {
    peers, stages, hours,
    churn: numFlag(flags, 'churn', 0.1),
    seed: intFlag(flags, 'seed', 1, USAGE, 0),
    config: SIM_MODEL, B: 1, T: 1024,
    // Browser WebGPU on volunteers' GPUs: a median of 1 TFLOP/s sustained fp32, spread ×/÷ 1.65 (σ 0.5).
    speedMedian: 1e12, speedSigma: 0.5,
    activationBudget: 4 * 2 ** 30,
    wireBytes: numFlag(flags, 'wire-bytes', 4),
    settings: { lookahead: intFlag(flags, 'lookahead', 1, USAGE, 0), inflight: intFlag(flags, 'inflight', 0, USAGE, 0) }
  }
}

function line (r: SimResult, peers: number): string {
  const m = r.microbatches
  return `${String(peers).padStart(5)} peers: utilization ${(100 * r.utilization).toFixed(1)}%, idle ${(100 * r.idle_fraction).toFixed(1)}%, ${r.tokens_per_second.toFixed(0)} tok/s, microbatches ${m.completed} done / ${m.retried} retried / ${m.lost} lost (${r.events} events, ${r.wall_s.toFixed(1)} s)`
}

export async function simMain (argv: string[]): Promise<number> {
  const flags = parseFlags(argv, { values: ['peers', 'stages', 'hours', 'churn', 'seed', 'json', 'scaling', 'scaling-hours', 'lookahead', 'wire-bytes', 'inflight'] }, USAGE)
  const init = simInit(flags)
  process.stderr.write(`simulating ${init.peers} peers × ${init.stages} stages for ${init.hours} h, churn ${init.churn}/h, seed ${init.seed}\n`)
  const result = await simulate({ ...init, onProgress: p => { if (p.simMinutes % 10 === 0) process.stderr.write(`  ${p.simMinutes} min: ${p.completed} microbatches, ${p.events} events\n`) } })
  process.stderr.write(line(result, init.peers) + '\n')
  const scaling: Array<{ peers: number } & SimResult> = []
  const list = flags.get('scaling')
  if (typeof list === 'string') {
    const hours = numFlag(flags, 'scaling-hours', init.hours)
    for (const n of list.split(',').map(Number)) {
      if (!Number.isInteger(n) || n < init.stages) throw new UsageError(`--scaling takes peer counts ≥ --stages, got "${list}"\n${USAGE}`)
      const r = n === init.peers && hours === init.hours ? result : await simulate({ ...init, peers: n, hours })
      process.stderr.write(line(r, n) + '\n')
      scaling.push({ peers: n, ...r })
    }
  }
  const report = {
    ...result,
    config: {
      peers: init.peers, stages: init.stages, hours: init.hours, churn: init.churn, seed: init.seed, model: init.config, B: init.B, T: init.T,
      accumulation: init.accumulation ?? init.peers, gpu: { median_flops: init.speedMedian, lognormal_sigma: init.speedSigma },
      links: { mbps: 'log-uniform 10–200', rtt_ms: 'uniform 20–150' }, activation_budget_bytes: init.activationBudget,
      wire_bytes_per_element: init.wireBytes, lookahead: init.settings?.lookahead, stage0_inflight: init.settings?.inflight, tracker_restart: 'at half time, 10 s outage, checkpoint kept'
    },
    ...(scaling.length > 0 ? { scaling } : {})
  }
  const out = flags.get('json')
  if (typeof out === 'string') {
    await mkdir(dirname(out), { recursive: true })
    await writeFile(out, JSON.stringify(report, null, 2) + '\n')
    process.stderr.write(`wrote ${out}\n`)
  } else {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n')
  }
  return result.microbatches.lost === 0 ? 0 : 1
}

if (import.meta.url === `file://${process.argv[1]}`) {
  simMain(process.argv.slice(2)).then(code => { process.exitCode = code }, err => {
    process.stderr.write(`${err instanceof UsageError ? err.message : (err as Error).stack ?? String(err)}\n`)
    process.exitCode = 2
  })
}
