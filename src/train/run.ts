// A whole training run, llm.c's `main` as a function: next batch → forward → backward → update,
// for the CLI trainer (`npm run train`, DESIGN.md "Commands") and the train benchmark. The CLI
// parses flags and files; this takes tokens and bytes and returns what `--out`, `--grads` and
// `--json` write.
import type { GPTConfig } from '../model/config.ts'
import { Pipeline, paramsFromCheckpoint, type PipelineInit } from './pipeline.ts'
import { TokenLoader } from './data.ts'
import { ThroughputMeter, stepFlops } from './flops.ts'
import type { LrSchedule } from './schedule.ts'
import { evaluate, ValidationSet } from './evaluate.ts'

export interface TrainRunInit {
  config: GPTConfig
  /** the dataset's tokens (data.ts decodeTokens) */
  tokens: Uint32Array
  steps: number
  /** rows per microbatch */
  B: number
  /** sequence length */
  T: number
  lr: number
  /** init and shuffle seed. @default 0 */
  seed?: number
  /** pipeline stages in this process. @default 1 */
  stages?: number
  /** false = `--no-shuffle`. @default true */
  shuffle?: boolean
  /** microbatches per optimizer step. @default 1 */
  accumulation?: number
  /** @default 'constant' */
  schedule?: LrSchedule['schedule']
  /** @default 0 */
  warmupSteps?: number
  /** @default 0 (llm.c) */
  weightDecay?: number
  /** global-norm clip; 0 = off. @default 1 (llm.c) */
  gradClip?: number
  /** full-model safetensors to start from (`--init`), else the seed's init */
  init?: Uint8Array
  /** return the first step's gradients before any update (`--grads`). @default false */
  wantGrads?: boolean
  /** kernel choices for every stage (tuned matmul tiles, attention blocks) */
  kernels?: PipelineInit['kernels']
  /** called after every step */
  onStep?: (s: TrainStepLog) => void
  /** held-out tokens scored forward-only every `every` steps (and after the last), on `batches` fixed microbatches */
  validation?: { tokens: Uint32Array, every: number, batches?: number }
}

export interface TrainStepLog {
  step: number
  loss: number
  lr: number
  gradNorm: number | null
  ms: number
  /** validation loss after this step's update, on the steps that evaluate */
  valLoss?: number
}

export interface TrainRunResult {
  steps: TrainStepLog[]
  /** the trained model (`--out`) */
  checkpoint: Uint8Array
  /** gradients of the first step's loss (`--grads`), or null */
  grads: Uint8Array | null
  /** over the last steps (the first, compile-heavy ones fall out) */
  tokensPerSecond: number
  flopsPerSecond: number
}

export async function runTraining (device: GPUDevice, init: TrainRunInit): Promise<TrainRunResult> {
  const { config, B, T, steps } = init
  const S = init.stages ?? 1
  const accumulation = init.accumulation ?? 1
  const seed = init.seed ?? 0
  const loader = new TokenLoader(init.tokens, { B, T, shuffle: init.shuffle ?? true, seed, vocab: config.vocab })
  const pipe = new Pipeline(device, config, loader, {
    B, T, stages: S, seed, kernels: init.kernels,
    params: init.init != null ? paramsFromCheckpoint(init.init, config, S) : undefined,
    trainer: {
      lr: init.lr,
      schedule: init.schedule ?? 'constant',
      warmupSteps: init.warmupSteps ?? 0,
      totalSteps: steps,
      accumulation,
      weightDecay: init.weightDecay ?? 0,
      gradClip: init.gradClip ?? 1
    }
  })
  try {
    const flops = stepFlops(config, B, T, accumulation)
    const meter = new ThroughputMeter()
    const log: TrainStepLog[] = []
    let grads: Uint8Array | null = null
    const val = init.validation != null ? new ValidationSet(init.validation.tokens, { B, T, batches: init.validation.batches }) : null
    for (let s = 0; s < steps; s++) {
      const t0 = performance.now()
      const lr = pipe.nodes[0].trainer.lr
      const loss = await pipe.accumulate()
      if (s === 0 && init.wantGrads === true) grads = await pipe.gradCheckpoint()
      const gradNorm = await pipe.update()
      const ms = performance.now() - t0
      if (s > 0 || steps === 1) meter.add({ tokens: flops.tokens, flops: flops.total, ms })
      const entry: TrainStepLog = { step: s, loss, lr, gradNorm, ms }
      if (val != null && ((s + 1) % init.validation!.every === 0 || s === steps - 1)) entry.valLoss = await evaluate(pipe.nodes.map(n => n.stage), val)
      log.push(entry)
      init.onStep?.(entry)
    }
    return { steps: log, checkpoint: await pipe.checkpoint(), grads, tokensPerSecond: meter.tokensPerSecond, flopsPerSecond: meter.flopsPerSecond }
  } finally {
    pipe.destroy()
  }
}
