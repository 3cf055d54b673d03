// The CLI trainer (`npm run train`, DESIGN.md "Commands") as a function: flags in, exit code out,
// so tests run it in-process. Recipe: load and check every input → device → runTraining (S stages
// in this process, helper src/train/run.ts) → write --out/--grads → sample → write --json.
import { mkdir } from 'node:fs/promises'
import { writeAtomic } from './write-atomic.ts'
import { join } from 'node:path'
import { UsageError } from './args.ts'
import { loadTrainOptions, TrainInputError, USAGE, type TrainOptions } from './train-options.ts'
import { TrainProgress, formatDuration, type ProgressSink } from './train-progress.ts'
import { requestNodeDevice } from '../node/webgpu.ts'
import { fullRange, splitStages, stageParamCount } from '../model/config.ts'
import { exportRange, hfConfigJson, importHfCheckpoint } from '../model/hf-checkpoint.ts'
import { exportStage } from '../model/checkpoint.ts'
import { initStageParams } from '../model/init.ts'
import { stageLayout } from '../model/params.ts'
import { runTraining, type TrainStepLog } from '../train/run.ts'
import { paramsFromCheckpoint } from '../train/pipeline.ts'
import { generateOnStages, samplingStages } from '../train/sample.ts'
import type { AdapterSummary } from '../gpu/device.ts'
import { loadTokenizer } from '../tokenizer/tokenizer.ts'

export interface TrainIo {
  /** generated text and the final summary */
  stdout: ProgressSink
  /** progress, log lines, errors */
  stderr: ProgressSink
  /** a device to use instead of requesting one from Node's WebGPU (tests share one) */
  device?: GPUDevice
  adapter?: AdapterSummary
}

const processIo: TrainIo = { stdout: process.stdout, stderr: process.stderr }

/** Runs the CLI; returns the exit code: 0 done, 2 bad flags or input files (nothing written), 1 failure. */
export async function trainMain (argv: string[], io: TrainIo = processIo): Promise<number> {
  const err = (line: string): void => { io.stderr.write(`train: ${line}\n`) }
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(USAGE + '\n')
    return 0
  }
  let opts: TrainOptions
  try {
    opts = await loadTrainOptions(argv)
  } catch (e) {
    if (e instanceof UsageError || e instanceof TrainInputError) {
      err(`${e.message.split('\n')[0]} (npm run train -- --help for usage)`)
      return 2
    }
    throw e
  }
  try {
    await train(opts, io)
    return 0
  } catch (e) {
    err(`${(e as Error).name}: ${(e as Error).message}`)
    if (process.env.TABGRAD_DEBUG != null) io.stderr.write(`${(e as Error).stack ?? ''}\n`)
    return 1
  }
}

async function train (opts: TrainOptions, io: TrainIo): Promise<void> {
  const { config, B, T, steps } = opts
  const log = (line: string): void => { io.stderr.write(line + '\n') }
  let device = io.device
  let adapter = io.adapter
  if (device == null) {
    const tg = await requestNodeDevice('tabgrad-train')
    device = tg.device; adapter = tg.summary
  }
  const params = stageParamCount(config, fullRange(config)).total
  log(`model: ${opts.configSource} V=${config.vocab} C=${config.d_model} L=${config.n_layer} NH=${config.n_head} n_ctx=${config.n_ctx}, ${(params / 1e6).toFixed(2)}M params${opts.initPath != null ? `, from ${opts.initPath}` : ''}${opts.initNotes.length > 0 ? ` (${opts.initNotes.join(', ')})` : ''}`)
  if (adapter != null) log(`device: ${[adapter.vendor, adapter.architecture, adapter.description].filter(s => s !== '').join(' ')}`)
  if (opts.tokens != null) log(`data: ${opts.dataPath} (${opts.tokens.length} ${opts.tokenizer ?? 'plain'} tokens${opts.validation != null ? ` + ${opts.validation.length} held out` : ''}), B=${B} T=${T}, ${opts.shuffle ? `shuffled (seed ${opts.seed})` : 'in order'}, ${opts.stages} stage${opts.stages > 1 ? 's' : ''}`)
  if (opts.validation != null && steps > 0) log(`validation: ${opts.valBatches}×${B}×${T} held-out tokens every ${opts.valEvery} steps, forward only`)

  // ---- train

  const t0 = performance.now()
  let stepsLog: TrainStepLog[] = []
  let checkpoint: Uint8Array
  let grads: Uint8Array | null = null
  let tokensPerSecond = 0
  let flopsPerSecond = 0
  if (steps > 0) {
    const progress = new TrainProgress(io.stderr, { steps, tokensPerStep: B * T })
    try {
      const r = await runTraining(device, {
        config, tokens: opts.tokens!, steps, B, T, lr: opts.lr, seed: opts.seed, stages: opts.stages, shuffle: opts.shuffle,
        gradClip: opts.gradClip, weightDecay: opts.weightDecay, init: opts.init ?? undefined, wantGrads: opts.grads != null,
        validation: opts.validation != null ? { tokens: opts.validation, every: opts.valEvery, batches: opts.valBatches } : undefined,
        onStep: s => {
          progress.step(s)
          // A line of its own: it stays in the scrollback under the live progress line.
          if (s.valLoss != null) io.stderr.write(`${io.stderr.isTTY === true ? '\r\x1b[2K' : ''}step ${s.step + 1}: train loss ${s.loss.toFixed(4)}, validation loss ${s.valLoss.toFixed(4)}\n`)
        }
      })
      stepsLog = r.steps; checkpoint = r.checkpoint; grads = r.grads
      tokensPerSecond = r.tokensPerSecond; flopsPerSecond = r.flopsPerSecond
    } finally {
      progress.end()
    }
    const first = stepsLog[0].loss; const last = stepsLog[stepsLog.length - 1].loss
    const vals = stepsLog.filter(s => s.valLoss != null)
    const valPart = vals.length > 0 ? `, validation loss ${vals[0].valLoss!.toFixed(4)} → ${vals[vals.length - 1].valLoss!.toFixed(4)}` : ''
    log(`trained ${steps} steps in ${formatDuration((performance.now() - t0) / 1000)}: loss ${first.toFixed(4)} → ${last.toFixed(4)}${valPart}, ${Math.round(tokensPerSecond)} tokens/s, ${(flopsPerSecond / 1e9).toFixed(2)} GFLOP/s`)
  } else {
    checkpoint = opts.init ?? exportStage(stageLayout(config, fullRange(config)), initStageParams(stageLayout(config, fullRange(config)), opts.seed))
  }
  const wallSeconds = (performance.now() - t0) / 1000

  // ---- outputs (each written whole: a temporary file renamed over the target)

  if (opts.out != null) { await writeAtomic(opts.out, checkpoint); log(`wrote ${opts.out}`) }
  if (opts.grads != null && grads != null) { await writeAtomic(opts.grads, grads); log(`wrote ${opts.grads} (gradients of step 0's loss)`) }
  if (opts.exportHf != null) {
    await mkdir(opts.exportHf, { recursive: true })
    const full = importHfCheckpoint(checkpoint, config)
    await writeAtomic(join(opts.exportHf, 'model.safetensors'), checkpoint)
    await writeAtomic(join(opts.exportHf, 'config.json'), new TextEncoder().encode(JSON.stringify(hfConfigJson(config), null, 2) + '\n'))
    if (opts.stages > 1) {
      for (const [k, r] of splitStages(config, opts.stages).entries()) await writeAtomic(join(opts.exportHf, `stage-${k}.safetensors`), exportRange(full, r))
    }
    log(`wrote ${opts.exportHf}/model.safetensors and config.json (Hugging Face GPT2LMHeadModel)${opts.stages > 1 ? ` and ${opts.stages} stage files` : ''}`)
  }

  let sample: string | null = null
  if (opts.sample > 0) {
    sample = await sampleText(device, opts, checkpoint)
    io.stdout.write(sample + '\n')
  }

  if (opts.json != null) {
    const metrics = {
      config,
      config_source: opts.configSource,
      init: opts.initPath,
      data: opts.dataPath,
      dataset_tokens: opts.tokens?.length ?? null,
      tokenizer: opts.tokenizer,
      validation_tokens: opts.validation?.length ?? 0,
      batch: B,
      seq: T,
      lr: opts.lr,
      seed: opts.seed,
      stages: opts.stages,
      shuffle: opts.shuffle,
      grad_clip: opts.gradClip,
      weight_decay: opts.weightDecay,
      steps: stepsLog.map(s => ({ step: s.step, loss: s.loss, ...(s.valLoss != null ? { val_loss: s.valLoss } : {}), lr: s.lr, grad_norm: s.gradNorm, ms: round(s.ms, 3) })),
      tokens_per_second: tokensPerSecond,
      flops_per_second: flopsPerSecond,
      wall_seconds: wallSeconds,
      adapter: adapter ?? null,
      sample
    }
    await writeAtomic(opts.json, new TextEncoder().encode(JSON.stringify(metrics, null, 2) + '\n'))
    log(`wrote ${opts.json}`)
  }
}

// ---- sampling

/** `--sample N` tokens after the prompt (default: the dataset's first token, else a newline). */
async function sampleText (device: GPUDevice, opts: TrainOptions, checkpoint: Uint8Array): Promise<string> {
  const { config } = opts
  const tokenizer = await loadTokenizer(opts.tokenizer ?? 'bytes')
  const prompt = opts.prompt != null
    ? tokenizer.encode(opts.prompt)
    : Uint32Array.of(opts.tokens?.[0] ?? tokenizer.eot ?? 10 % config.vocab)
  const stages = samplingStages(device, config, paramsFromCheckpoint(checkpoint, config, 1), Math.min(config.n_ctx, Math.max(opts.T, prompt.length)))
  try {
    const out = await generateOnStages(device, stages, Uint32Array.from(prompt), { maxNewTokens: opts.sample, seed: opts.seed, temperature: opts.temperature, topK: opts.topK })
    // Text through the data's tokenizer (invalid UTF-8 shows as U+FFFD); ids past its vocabulary as numbers.
    if (Array.from(out).every(t => t < tokenizer.vocab)) return tokenizer.decode(out)
    return Array.from(out).join(' ')
  } finally {
    for (const s of stages) s.destroy()
  }
}

function round (x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
