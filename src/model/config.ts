// GPT config, presets, pipeline stage ranges and the per-stage size/cost estimates derived from them.
import { ConfigError } from './errors.ts'

/** GPT-2 hyper-parameters (DESIGN.md "Model"). */
export interface GPTConfig {
  vocab: number
  d_model: number
  n_layer: number
  n_head: number
  n_ctx: number
}

/** A pipeline stage owns layers [first, last); first === 0 adds wte/wpe, last === n_layer adds ln_f/lm_head. */
export interface StageRange {
  first: number
  last: number
}

// Byte-level presets (vocab 256): tiny trains on SwiftShader in CI; base is GPT-2 124M's body.
// GPT-2-tokenized presets (vocab 50257, src/tokenizer): gpt2-124m has Hugging Face `gpt2`'s shapes
// (n_embd 768, n_layer 12, n_head 12, n_positions 1024), so its checkpoints load as they are;
// gpt2-mini is a mid size (d 384, 6 layers, nanoGPT's "baby GPT" body) whose 49.4 M parameters are
// mostly its two 50257-row embedding tables.
export const PRESETS = {
  tiny: { vocab: 256, d_model: 64, n_layer: 2, n_head: 2, n_ctx: 64 },
  small: { vocab: 256, d_model: 384, n_layer: 6, n_head: 6, n_ctx: 256 },
  base: { vocab: 256, d_model: 768, n_layer: 12, n_head: 12, n_ctx: 1024 },
  'gpt2-mini': { vocab: 50257, d_model: 384, n_layer: 6, n_head: 6, n_ctx: 512 },
  'gpt2-124m': { vocab: 50257, d_model: 768, n_layer: 12, n_head: 12, n_ctx: 1024 }
} as const satisfies Record<string, GPTConfig>

/** The tokenizer a preset's vocabulary is made for. */
export function presetTokenizer (name: PresetName): 'bytes' | 'gpt2' {
  return PRESETS[name].vocab === 256 ? 'bytes' : 'gpt2'
}

export type PresetName = keyof typeof PRESETS

const KEYS = ['vocab', 'd_model', 'n_layer', 'n_head', 'n_ctx'] as const

/** Checks an untrusted value (manifest, checkpoint metadata) and returns a clean GPTConfig. */
export function validateConfig (value: unknown): GPTConfig {
  if (typeof value !== 'object' || value == null || Array.isArray(value)) throw new ConfigError('config must be an object')
  const v = value as Record<string, unknown>
  for (const k of Object.keys(v)) {
    if (!(KEYS as readonly string[]).includes(k)) throw new ConfigError(`config: unknown field "${k}"`)
  }
  const out: Record<string, number> = {}
  for (const k of KEYS) {
    const x = v[k]
    // 2^24 keeps every index and element count well inside float32-exact and safe-integer ranges.
    if (typeof x !== 'number' || !Number.isInteger(x) || x <= 0 || x > 2 ** 24) throw new ConfigError(`config: ${k} must be a positive integer ≤ 2^24, got ${JSON.stringify(x)}`)
    out[k] = x
  }
  const c = out as unknown as GPTConfig
  if (c.d_model % c.n_head !== 0) throw new ConfigError(`config: d_model ${c.d_model} is not divisible by n_head ${c.n_head}`)
  return c
}

export function configsEqual (a: GPTConfig, b: GPTConfig): boolean {
  return KEYS.every(k => a[k] === b[k])
}

export function headSize (c: GPTConfig): number {
  return c.d_model / c.n_head
}

// ---- stages

export function ownsEmbedding (range: StageRange): boolean {
  return range.first === 0
}

export function ownsHead (config: GPTConfig, range: StageRange): boolean {
  return range.last === config.n_layer
}

export function validateRange (config: GPTConfig, range: StageRange): StageRange {
  const { first, last } = range
  if (!Number.isInteger(first) || !Number.isInteger(last) || first < 0 || last > config.n_layer || first >= last) {
    throw new ConfigError(`stage range [${String(first)}, ${String(last)}) must be a non-empty layer range inside [0, ${config.n_layer})`)
  }
  return { first, last }
}

export function fullRange (config: GPTConfig): StageRange {
  return { first: 0, last: config.n_layer }
}

/**
 * Splits the layers into S contiguous stages whose layer counts differ by at most one. Every stage
 * has at least one layer (so ownership of wte/wpe and ln_f/lm_head is unambiguous). Extra layers go
 * to middle stages first, then stage 0, then the last stage, which already carries the LM head.
 */
export function splitStages (config: GPTConfig, S: number): StageRange[] {
  if (!Number.isInteger(S) || S < 1 || S > config.n_layer) throw new ConfigError(`cannot split ${config.n_layer} layers into ${S} stages (need 1 ≤ S ≤ n_layer)`)
  const counts = new Array<number>(S).fill(Math.floor(config.n_layer / S))
  let extra = config.n_layer % S
  const order = [...Array.from({ length: Math.max(0, S - 2) }, (_, i) => i + 1), 0, S - 1]
  for (const s of order) {
    if (extra === 0) break
    counts[s]++
    extra--
  }
  const ranges: StageRange[] = []
  let first = 0
  for (const n of counts) {
    ranges.push({ first, last: first + n })
    first += n
  }
  return ranges
}

// ---- sizes and costs (unpadded element counts; the flat buffers add alignment, see params.ts)

/** Parameter elements of one transformer block: ln_1, c_attn, c_proj, ln_2, c_fc, mlp.c_proj. */
export function layerParamCount (c: GPTConfig): number {
  const C = c.d_model
  return 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + 2 * C + (C * 4 * C + 4 * C) + (4 * C * C + C)
}

export interface StageParamCount {
  /** wte + wpe (stage 0 only): looked up, never multiplied */
  embedding: number
  /** the stage's transformer blocks */
  layers: number
  /** ln_f + lm_head (last stage only) */
  head: number
  total: number
}

export function stageParamCount (config: GPTConfig, range: StageRange): StageParamCount {
  validateRange(config, range)
  const C = config.d_model
  const embedding = ownsEmbedding(range) ? (config.vocab + config.n_ctx) * C : 0
  const layers = (range.last - range.first) * layerParamCount(config)
  const head = ownsHead(config, range) ? 2 * C + config.vocab * C : 0
  return { embedding, layers, head, total: embedding + layers + head }
}

export interface StageFlops {
  forward: number
  backward: number
  total: number
}

/**
 * FLOPs of one microbatch (B, T) through a stage, counted as llm.c and Pluralis do (the 2N rule):
 * every parameter except the wte/wpe lookups costs 2 FLOPs per token (a multiply-add; biases and
 * LayerNorm are counted too, they are < 1% of a layer); causal attention adds
 * QKᵀ and PV over T(T+1)/2 query-key pairs per head, 2·2·HS each, i.e. 2·B·C·T(T+1) per layer;
 * backward is twice forward. Embedding lookups, LayerNorm, GELU and softmax are not counted.
 * These numbers are the credit unit of work receipts, so they are exact integers.
 */
export function stageFlops (config: GPTConfig, range: StageRange, B: number, T: number): StageFlops {
  checkBT(config, B, T)
  const p = stageParamCount(config, range)
  const tokens = B * T
  const attention = (range.last - range.first) * 2 * B * config.d_model * T * (T + 1)
  const forward = 2 * (p.layers + p.head) * tokens + attention
  return { forward, backward: 2 * forward, total: 3 * forward }
}

function checkBT (config: GPTConfig, B: number, T: number): void {
  if (!Number.isInteger(B) || B < 1) throw new ConfigError(`batch size B must be a positive integer, got ${B}`)
  if (!Number.isInteger(T) || T < 1 || T > config.n_ctx) throw new ConfigError(`sequence length T must be an integer in [1, n_ctx=${config.n_ctx}], got ${T}`)
}
