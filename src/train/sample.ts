// Text generation with a trained model on the GPU: all stages in one process, B = 1, each new
// token a forward through every stage and the last position's logits sampled on the CPU
// (src/model/cpu/sample.ts). The window is fixed at the stages' T: causal attention makes the
// logits at position t depend on tokens ≤ t only, so a shorter context is padded at the end.
import { GptStage } from '../model/stage.ts'
import { DecodeStage } from '../model/decode-stage.ts'
import { splitStages, type GPTConfig } from '../model/config.ts'
import { sampleToken, type SampleOptions } from '../model/cpu/sample.ts'
import { createRng } from '../model/rng.ts'
import { ModelInputError } from '../model/errors.ts'

export interface GenerateOptions extends SampleOptions {
  /** tokens to append */
  maxNewTokens: number
  /** sampling seed. @default 0 */
  seed?: number
}

function checkNewTokens (n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new ModelInputError(`maxNewTokens must be an integer ≥ 0, got ${n}`)
}

/** Sampling stages (B = 1, T = window) from per-stage flat params of an S-stage split. */
export function samplingStages (device: GPUDevice, config: GPTConfig, params: Float32Array[], window = config.n_ctx): GptStage[] {
  const ranges = splitStages(config, params.length)
  return ranges.map((range, s) => new GptStage(device, config, range, { B: 1, T: window, params: params[s], label: `sample[${range.first},${range.last})` }))
}

/** Logits (V) of the token after `context` (its last `T` tokens). */
export async function nextTokenLogits (stages: GptStage[], context: Uint32Array): Promise<Float32Array> {
  const T = stages[0].T
  const V = stages[0].config.vocab
  if (context.length === 0) throw new ModelInputError('generation needs a non-empty prompt')
  const window = context.subarray(Math.max(0, context.length - T))
  const tokens = new Uint32Array(stages[0].B * T) // padding after the window never reaches it
  tokens.set(window)
  let x: Uint32Array | Float32Array = tokens
  for (const s of stages) {
    const out = await s.forward(x)
    if (out != null) x = out
  }
  const logits = await stages[stages.length - 1].logits()
  const t = window.length - 1
  return logits.slice(t * V, (t + 1) * V)
}

/** prompt followed by maxNewTokens sampled tokens. */
export async function generate (stages: GptStage[], prompt: Uint32Array, opts: GenerateOptions): Promise<Uint32Array> {
  checkNewTokens(opts.maxNewTokens)
  const rng = createRng(opts.seed ?? 0)
  const out = new Uint32Array(prompt.length + opts.maxNewTokens)
  out.set(prompt)
  for (let n = prompt.length; n < out.length; n++) {
    out[n] = sampleToken(await nextTokenLogits(stages, out.subarray(0, n)), rng, opts)
  }
  return out
}

/**
 * As `generate`, with KV caches (row 0 of each DecodeStage): the prompt goes in one position at a
 * time, then each new token costs one position per stage instead of a forward over the window.
 * The context is bounded by the caches (maxT positions); the row is reset first and left holding
 * the sequence.
 */
export async function generateCached (stages: DecodeStage[], prompt: Uint32Array, opts: GenerateOptions): Promise<Uint32Array> {
  checkNewTokens(opts.maxNewTokens)
  if (prompt.length === 0) throw new ModelInputError('generation needs a non-empty prompt')
  const B = stages[0].B
  const total = prompt.length + opts.maxNewTokens
  if (total > stages[0].maxT) throw new ModelInputError(`prompt and new tokens (${total}) exceed the cache's ${stages[0].maxT} positions`)
  for (const s of stages) s.reset(0)
  const rng = createRng(opts.seed ?? 0)
  const out = new Uint32Array(total)
  out.set(prompt)
  const V = stages[stages.length - 1].stage.config.vocab
  for (let n = 0; n < total - 1; n++) {
    const tokens = new Uint32Array(B) // other rows decode token 0; they are not read
    tokens[0] = out[n]
    let x: Uint32Array | Float32Array = tokens
    for (const s of stages) x = await s.step(x)
    if (n + 1 >= prompt.length) out[n + 1] = sampleToken((x as Float32Array).subarray(0, V), rng, opts)
  }
  return out
}

/**
 * Generation on `stages` (their weights, read in place): with KV caches when prompt and new tokens
 * fit the model's context, each token one position of compute; else the sliding window.
 */
export async function generateOnStages (device: GPUDevice, stages: GptStage[], prompt: Uint32Array, opts: GenerateOptions): Promise<Uint32Array> {
  const total = prompt.length + opts.maxNewTokens
  if (prompt.length === 0 || total > stages[0].config.n_ctx) return await generate(stages, prompt, opts)
  const decoders = stages.map(s => new DecodeStage(device, s, { maxT: total }))
  try {
    return await generateCached(decoders, prompt, opts)
  } finally {
    for (const d of decoders) d.destroy()
  }
}
