// `npm run bench -- train`: training steps of the reference model on Node's WebGPU (Dawn), one
// submit each (GptStage.trainStep), with the dispatch count and GPU time by kernel family, against
// a plain matmul timed in the same run on the same device. The target: a whole step reaches ≥ 60% of the kernel-level matmul GFLOP/s.
// Writes bench/results/train.json.
//   npm run bench -- train [--steps N] [--no-tune] [--out FILE]
//   (or: tsx --import ./src/node/register.ts src/cli/bench-train.ts …)
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { UsageError, intFlag, parseFlags } from './args.ts'
import { requestNodeDevice } from '../node/webgpu.ts'
import { MatmulTuner, memoryTuneStore, timeKernel } from '../gpu/autotune.ts'
import { Matmul, configName, operandShapes, type MatmulLayout } from '../gpu/kernels/matmul.ts'
import { createTensor } from '../gpu/tensor.ts'
import { randomArray } from '../gpu/numerics.ts'
import { fullRange, type GPTConfig } from '../model/config.ts'
import { GptStage, createTunedStage } from '../model/stage.ts'
import { stepFlops } from '../train/flops.ts'
import { TokenLoader } from '../train/data.ts'
import type { TabgradDevice } from '../gpu/device.ts'
import { profileByFamily } from '../bench/step-profile.ts'

const USAGE = 'usage: npm run bench -- train [--steps N] [--no-tune] [--out FILE]'

/** The reference config of the issue: d=256, 4 layers, 4 heads, T=128, B=4. */
export const REFERENCE = { config: { vocab: 256, d_model: 256, n_layer: 4, n_head: 4, n_ctx: 128 } satisfies GPTConfig, B: 4, T: 128 }
/** The plain matmul: the reference's qkv projection at B·T = 512 rows. */
export const MATMUL = { M: 512, K: 256, N: 768, layout: 'nn' as MatmulLayout }
export const TARGET_FRACTION = 0.6

export interface TrainBenchInit {
  /** timed steps after the warm-up step. @default 3 on a fallback (CPU) adapter, else 30 */
  steps?: number
  /** autotune matmul tile configs for the stage and the reference matmul. @default true on a GPU */
  tune?: boolean
}

export async function runTrainBench (tg: TabgradDevice, init: TrainBenchInit = {}): Promise<Record<string, unknown>> {
  const { device } = tg
  const slow = tg.summary.isFallbackAdapter || tg.summary.architecture === 'swiftshader'
  const steps = init.steps ?? (slow ? 3 : 30)
  const tune = init.tune ?? !slow
  const { config, B, T } = REFERENCE
  const flops = stepFlops(config, B, T)
  const tuner = new MatmulTuner(tg, { store: memoryTuneStore(), targetMsPerCandidate: slow ? 5 : 20, maxIterations: 100 })

  // Nothing else keeps Node's event loop alive while only onSubmittedWorkDone is pending.
  const keepAlive = setInterval(() => {}, 1000)
  try {
    // ---- the plain matmul, kernel level
    const mmConfig = tune ? await tuner.configFor(MATMUL) : undefined
    const plan = new Matmul(device, { ...MATMUL, config: mmConfig, label: 'bench.matmul' })
    const shapes = operandShapes(MATMUL.layout, MATMUL.M, MATMUL.K, MATMUL.N)
    const a = createTensor(device, shapes.a, 'bench.a', randomArray(shapes.a[0] * shapes.a[1], 1))
    const b = createTensor(device, shapes.b, 'bench.b', randomArray(shapes.b[0] * shapes.b[1], 2))
    const out = createTensor(device, [MATMUL.M, MATMUL.N], 'bench.out')
    const mmTiming = await timeKernel(tg, pass => plan.encode(pass, a, b, out), { iterations: slow ? 5 : 200, label: 'bench.matmul' })
    const matmulGflops = plan.flops / mmTiming.ms / 1e6
    plan.destroy(); a.buffer.destroy(); b.buffer.destroy(); out.buffer.destroy()
    log(`matmul ${MATMUL.layout} ${MATMUL.M}x${MATMUL.K}x${MATMUL.N} ${configName(plan.config)}: ${matmulGflops.toFixed(1)} GFLOP/s (${mmTiming.method})`)

    // ---- the training step: trainStep, one submit per step, readbacks awaited after the last
    const stageInit = { B, T, seed: 0, label: 'bench' }
    const stage = tune ? await createTunedStage(device, tuner, config, fullRange(config), stageInit) : new GptStage(device, config, fullRange(config), stageInit)
    const tokens = Uint32Array.from({ length: 1 << 16 }, (_, i) => (i * 7919 + (i >> 5)) & 255)
    const loader = new TokenLoader(tokens, { B, T, shuffle: true })
    const opts = { lr: 1e-4, gradClip: 1 } // global-norm clip at 1 (llm.c), on the GPU
    let mbIndex = 0
    const warm = loader.microbatch(mbIndex++)
    const first = await stage.trainStep(warm.inputs, warm.targets, opts) // compiles pipelines: not timed
    log(`warm-up step: loss ${first.loss.toFixed(4)}, grad norm ${first.gradNorm.toFixed(3)}`)
    const t0 = performance.now()
    const pending: Array<Promise<{ loss: number, gradNorm: number }>> = []
    for (let s = 0; s < steps; s++) {
      const mb = loader.microbatch(mbIndex++)
      pending.push(stage.trainStep(mb.inputs, mb.targets, opts))
    }
    const results = await Promise.all(pending)
    const ms = (performance.now() - t0) / steps
    log(`${steps} steps (trainStep, one submit each): ${ms.toFixed(1)} ms/step, losses ${results.map(r => r.loss.toFixed(4)).join(' ')}`)

    // The three-call path (forward, backward with its loss readback, grad-norm readback, step) for comparison.
    const c0 = performance.now()
    for (let s = 0; s < steps; s++) {
      const mb = loader.microbatch(mbIndex++)
      await stage.forward(mb.inputs, mb.targets)
      await stage.backward()
      await stage.loss()
      const norm = Math.sqrt(await stage.gradSumOfSquares())
      stage.step({ lr: 1e-4, gradScale: norm > 1 ? 1 / norm : 1 })
      stage.zeroGrad()
    }
    await device.queue.onSubmittedWorkDone()
    const threeCallMs = (performance.now() - c0) / steps
    log(`${steps} steps (forward/backward/gradSumOfSquares/step): ${threeCallMs.toFixed(1)} ms/step`)

    // Dispatches of one step and GPU time by kernel family.
    const lists = stage.trainStepDispatches(opts.gradClip)
    const dispatches = { forward: lists.forward.length, backward: lists.backward.length, optimizer: lists.optimizer.length, total: lists.forward.length + lists.backward.length + lists.optimizer.length }
    const families = await profileByFamily(device, [lists.forward, lists.backward, lists.optimizer])
    if (families != null) for (const f of families) log(`  ${f.family.padEnd(12)} ${String(f.dispatches).padStart(3)} dispatches ${f.ms.toFixed(1).padStart(8)} ms ${(100 * f.fraction).toFixed(1).padStart(5)}%`)
    stage.destroy()

    const stepGflops = flops.total / ms / 1e6
    const fraction = stepGflops / matmulGflops
    const result = {
      adapter: tg.summary,
      runtime: `node ${process.version}, webgpu (Dawn) package`,
      date: new Date().toISOString(),
      config, B, T,
      steps_timed: steps,
      tuned: tune,
      matmul: { layout: MATMUL.layout, shape: { M: MATMUL.M, K: MATMUL.K, N: MATMUL.N }, config: configName(plan.config), gflops: matmulGflops, method: mmTiming.method },
      step: {
        ms,
        tokens_per_second: B * T / ms * 1000,
        flops: flops.total,
        gflops: stepGflops,
        // Model FLOP utilization against the same run's matmul (the measured peak).
        fraction_of_matmul: fraction,
        dispatches,
        dispatches_before: 158,
        submits: 1,
        blocking_readbacks: 0
      },
      step_three_call: { ms: threeCallMs, gflops: flops.total / threeCallMs / 1e6, fraction_of_matmul: flops.total / threeCallMs / 1e6 / matmulGflops, submits: 6, blocking_readbacks: 2 },
      gpu_time_by_family: families,
      target_fraction: TARGET_FRACTION,
      meets_target: fraction >= TARGET_FRACTION,
      note: 'step: GptStage.trainStep (forward, loss, backward, GPU grad-norm clip, AdamW, zero grad in one command buffer), steps submitted back to back and their loss/norm readbacks awaited after the last; wall clock. FLOPs are stepFlops (2N rule + causal attention, backward = 2x forward). The matmul is the kernel alone, GPU-timed when timestamp queries exist. gpu_time_by_family replays one step with a timestamped pass per dispatch (proportions). dispatches_before: the same count on the code before dispatch lists and fusions (issue 18).',
      losses: results.map(r => r.loss)
    }
    return result
  } finally {
    clearInterval(keepAlive)
  }
}

function log (line: string): void {
  console.log(`tabgrad:bench:train ${line}`)
}

interface Speed { ms: number, tokens_per_second: number, gflops: number, fraction_of_matmul: number }

/** The CLI: flags → run → bench/results/train.json. */
export async function benchTrainMain (argv: string[]): Promise<number> {
  // --preset: one stage of each kind of a preset's pipeline (bench-preset.ts).
  if (argv.some(a => a === '--preset' || a.startsWith('--preset='))) return await (await import('./bench-preset.ts')).benchPresetMain(argv)
  let init: TrainBenchInit; let outPath: string
  try {
    const flags = parseFlags(argv, { values: ['steps', 'out'], booleans: ['no-tune', 'help'] }, USAGE)
    if (flags.has('help')) { console.log(USAGE); return 0 }
    init = { steps: flags.has('steps') ? intFlag(flags, 'steps', undefined, USAGE) : undefined, tune: flags.has('no-tune') ? false : undefined }
    outPath = resolve(typeof flags.get('out') === 'string' ? flags.get('out') as string : 'bench/results/train.json')
  } catch (err) {
    if (err instanceof UsageError) { console.error(`bench train: ${err.message.split('\n')[0]}\n${USAGE}`); return 2 }
    throw err
  }
  const tg = await requestNodeDevice('bench-train')
  const r = await runTrainBench(tg, init) as { step: Speed, step_three_call: Speed, matmul: { gflops: number } }
  await mkdir(dirname(outPath), { recursive: true })
  await writeFile(outPath, JSON.stringify(r, null, 2) + '\n')
  log(`step ${r.step.ms.toFixed(1)} ms, ${Math.round(r.step.tokens_per_second)} tokens/s, ${r.step.gflops.toFixed(1)} GFLOP/s = ${(100 * r.step.fraction_of_matmul).toFixed(0)}% of the matmul's ${r.matmul.gflops.toFixed(1)} (target ${100 * TARGET_FRACTION}%)`)
  const u = r.step_three_call
  log(`three-call path: ${u.ms.toFixed(1)} ms, ${(100 * u.fraction_of_matmul).toFixed(0)}% of the matmul`)
  log(`wrote ${outPath}`)
  tg.device.destroy()
  return 0
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await benchTrainMain(process.argv.slice(2))
}
