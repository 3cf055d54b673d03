// `npm run bench -- train --preset gpt2-124m --stages 12`: one stage of each kind of a preset's
// pipeline (the embedding stage 0, a middle stage, the head stage S−1) trained alone on Node's
// WebGPU with synthetic inputs: step time (forward + backward + AdamW, synced), tokens/s, and the
// memory plan (memory.ts) next to the bytes the stage really allocated. Writes
// bench/results/train-<preset>.json.
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { UsageError, intFlag, parseFlags } from './args.ts'
import { requestNodeDevice } from '../node/webgpu.ts'
import { PRESETS, splitStages, stageFlops, type GPTConfig, type PresetName, type StageRange } from '../model/config.ts'
import { GptStage } from '../model/stage.ts'
import { stageMemory } from '../model/memory.ts'
import type { TabgradDevice } from '../gpu/device.ts'

const USAGE = 'usage: npm run bench -- train --preset NAME [--stages S] [--batch B] [--seq T] [--steps N] [--out FILE]'

export interface PresetBenchInit { preset: PresetName, stages: number, B: number, T: number, steps: number }

async function benchStage (tg: TabgradDevice, config: GPTConfig, range: StageRange, kind: string, init: PresetBenchInit): Promise<Record<string, unknown>> {
  const { device } = tg
  const { B, T } = init
  const BT = B * T; const C = config.d_model
  const isLast = range.last === config.n_layer; const isFirst = range.first === 0
  const original = device.createBuffer.bind(device)
  let allocated = 0
  device.createBuffer = (d: GPUBufferDescriptor) => { allocated += d.size; return original(d) }
  const t0 = performance.now()
  const stage = new GptStage(device, config, range, { B, T, seed: 1 })
  const buildMs = performance.now() - t0
  const tokens = Uint32Array.from({ length: BT }, (_, i) => (i * 7919) % config.vocab)
  const x = new Float32Array(BT * C).fill(0.01)
  const dy = new Float32Array(BT * C).fill(1e-4)
  const times: number[] = []
  try {
    for (let s = 0; s <= init.steps; s++) { // step 0 compiles the pipelines: not timed
      const t = performance.now()
      await stage.forward(isFirst ? tokens : x, isLast ? tokens : undefined)
      await stage.backward(isLast ? undefined : dy)
      stage.step({ lr: 1e-4 })
      stage.zeroGrad()
      await device.queue.onSubmittedWorkDone()
      if (s > 0) times.push(performance.now() - t)
      log(`  ${kind} [${range.first}, ${range.last}) step ${s}: ${(performance.now() - t).toFixed(0)} ms`)
    }
  } finally {
    device.createBuffer = original
    stage.destroy()
  }
  const ms = times.reduce((a, b) => a + b, 0) / times.length
  const plan = stageMemory(config, range, B, T)
  const flops = stageFlops(config, range, B, T).total
  return {
    kind,
    range,
    build_ms: round(buildMs),
    step_ms: round(ms),
    tokens_per_second: round(BT / (ms / 1000)),
    gflops: round(flops / ms / 1e6),
    memory_plan_bytes: { weights: plan.params, grads: plan.grads, adam: plan.adam, activations: plan.activations, scratch: plan.scratch, io: plan.io, total: plan.total },
    allocated_bytes: allocated,
    allocated_over_plan: round(allocated / plan.total, 4)
  }
}

/** `onStage` gets the result so far after each stage (the CLI writes it, so a run cut short keeps what it measured). */
export async function runPresetBench (tg: TabgradDevice, init: PresetBenchInit, onStage?: (partial: Record<string, unknown>) => Promise<void>): Promise<Record<string, unknown>> {
  const config = PRESETS[init.preset]
  const ranges = splitStages(config, init.stages)
  const picks: Array<[string, StageRange]> = [['embedding', ranges[0]]]
  if (ranges.length > 2) picks.push(['middle', ranges[Math.floor(ranges.length / 2)]])
  if (ranges.length > 1) picks.push(['head', ranges[ranges.length - 1]])
  const keepAlive = setInterval(() => {}, 1000)
  try {
    const stages: Array<Record<string, unknown>> = []
    const result = (): Record<string, unknown> => ({ preset: init.preset, config, stages_in_pipeline: init.stages, B: init.B, T: init.T, steps: init.steps, adapter: tg.summary, stages, complete: stages.length === picks.length, date: new Date().toISOString() })
    for (const [kind, range] of picks) {
      stages.push(await benchStage(tg, config, range, kind, init))
      await onStage?.(result())
    }
    return result()
  } finally {
    clearInterval(keepAlive)
  }
}

export async function benchPresetMain (argv: string[]): Promise<number> {
  let init: PresetBenchInit; let outPath: string
  try {
    const flags = parseFlags(argv, { values: ['preset', 'stages', 'batch', 'seq', 'steps', 'out'] }, USAGE)
    const preset = flags.get('preset') as string
    if (!Object.hasOwn(PRESETS, preset)) throw new UsageError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}`)
    const p = preset as PresetName
    init = { preset: p, stages: intFlag(flags, 'stages', PRESETS[p].n_layer, USAGE), B: intFlag(flags, 'batch', 1, USAGE), T: intFlag(flags, 'seq', Math.min(256, PRESETS[p].n_ctx), USAGE), steps: intFlag(flags, 'steps', 3, USAGE) }
    splitStages(PRESETS[p], init.stages)
    if (init.T > PRESETS[p].n_ctx) throw new UsageError(`--seq must be ≤ n_ctx ${PRESETS[p].n_ctx}`)
    outPath = resolve(typeof flags.get('out') === 'string' ? flags.get('out') as string : `bench/results/train-${p}.json`)
  } catch (err) {
    if (err instanceof UsageError || (err as Error).name === 'ConfigError') { console.error(`bench train: ${(err as Error).message.split('\n')[0]}\n${USAGE}`); return 2 }
    throw err
  }
  const tg = await requestNodeDevice('bench-preset')
  log(`${init.preset}, one stage of each kind out of ${init.stages}, B=${init.B} T=${init.T}, on ${tg.summary.vendor} ${tg.summary.architecture}`)
  await mkdir(dirname(outPath), { recursive: true })
  const save = async (r: Record<string, unknown>): Promise<void> => { await writeFile(outPath, JSON.stringify(r, null, 2) + '\n') }
  const r = await runPresetBench(tg, init, save)
  for (const s of r.stages as Array<Record<string, any>>) log(`${s.kind as string}: ${s.step_ms as number} ms/step, ${s.tokens_per_second as number} tokens/s, plan ${mb(s.memory_plan_bytes.total)} MiB, allocated ${mb(s.allocated_bytes)} MiB`)
  log(`wrote ${outPath}`)
  return 0
}

const mb = (b: number): string => (b / 2 ** 20).toFixed(1)
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d
function log (line: string): void { console.error(line) }
