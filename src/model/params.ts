// The ordered spec table of a stage's parameters. It builds the flat buffer layout (one buffer each
// for params, grads, Adam m and v, all with the same views) and names every view with its Hugging
// Face checkpoint name, so runtime views and safetensors names can never drift apart.
// No GPU types here: GPU code binds `offset`/`shape` into its own buffers.
import { alignElements } from '../gpu/tensor.ts'
import { ownsEmbedding, ownsHead, validateConfig, validateRange, type GPTConfig, type StageRange } from './config.ts'

/** How init.ts fills a tensor (GPT-2 / llm.c conventions). */
export type InitRule =
  | 'normal' // N(0, 0.02²)
  | 'residual' // N(0, (0.02/√(2L))²): projections that write into the residual stream
  | 'ones' // LayerNorm weight
  | 'zeros' // biases

/** The short per-layer keys, as llm.c names them. */
export type LayerKey = 'ln1w' | 'ln1b' | 'qkvw' | 'qkvb' | 'attprojw' | 'attprojb' | 'ln2w' | 'ln2b' | 'fcw' | 'fcb' | 'fcprojw' | 'fcprojb'
export type EmbeddingKey = 'wte' | 'wpe'
export type HeadKey = 'lnfw' | 'lnfb' | 'lmhead'
export type ParamKey = LayerKey | EmbeddingKey | HeadKey

export interface ParamView {
  /** Hugging Face GPT-2 name (DESIGN.md), layer index global */
  name: string
  key: ParamKey
  /** global layer index, or null for embeddings and head */
  layer: number | null
  shape: readonly number[]
  /** elements (product of shape) */
  size: number
  /** element offset in the flat buffer, a multiple of VIEW_ALIGN_ELEMENTS */
  offset: number
  /** 2-D weight: AdamW weight decay applies */
  matrix: boolean
  init: InitRule
}

export type LayerViews = Record<LayerKey, ParamView>

export interface StageLayout {
  config: GPTConfig
  range: StageRange
  /** every view, in buffer order */
  views: readonly ParamView[]
  /** elements of the flat buffer, alignment padding included */
  totalElements: number
  /** elements actually holding parameters */
  paramCount: number
  byName: ReadonlyMap<string, ParamView>
  /** stage 0 only */
  embedding: Record<EmbeddingKey, ParamView> | null
  /** last stage only */
  head: Record<HeadKey, ParamView> | null
  /** one layer's views; l is the global layer index, first ≤ l < last */
  layerView: (l: number) => LayerViews
}

interface Row { key: ParamKey, suffix: string, shape: (c: GPTConfig) => number[], init: InitRule }

const EMBEDDING_ROWS: Row[] = [
  { key: 'wte', suffix: 'transformer.wte.weight', shape: c => [c.vocab, c.d_model], init: 'normal' },
  { key: 'wpe', suffix: 'transformer.wpe.weight', shape: c => [c.n_ctx, c.d_model], init: 'normal' }
]

// Conv1D weights are [in, out] as in Hugging Face GPT-2; c_attn's columns are q, k, v.
const LAYER_ROWS: Row[] = [
  { key: 'ln1w', suffix: 'ln_1.weight', shape: c => [c.d_model], init: 'ones' },
  { key: 'ln1b', suffix: 'ln_1.bias', shape: c => [c.d_model], init: 'zeros' },
  { key: 'qkvw', suffix: 'attn.c_attn.weight', shape: c => [c.d_model, 3 * c.d_model], init: 'normal' },
  { key: 'qkvb', suffix: 'attn.c_attn.bias', shape: c => [3 * c.d_model], init: 'zeros' },
  { key: 'attprojw', suffix: 'attn.c_proj.weight', shape: c => [c.d_model, c.d_model], init: 'residual' },
  { key: 'attprojb', suffix: 'attn.c_proj.bias', shape: c => [c.d_model], init: 'zeros' },
  { key: 'ln2w', suffix: 'ln_2.weight', shape: c => [c.d_model], init: 'ones' },
  { key: 'ln2b', suffix: 'ln_2.bias', shape: c => [c.d_model], init: 'zeros' },
  { key: 'fcw', suffix: 'mlp.c_fc.weight', shape: c => [c.d_model, 4 * c.d_model], init: 'normal' },
  { key: 'fcb', suffix: 'mlp.c_fc.bias', shape: c => [4 * c.d_model], init: 'zeros' },
  { key: 'fcprojw', suffix: 'mlp.c_proj.weight', shape: c => [4 * c.d_model, c.d_model], init: 'residual' },
  { key: 'fcprojb', suffix: 'mlp.c_proj.bias', shape: c => [c.d_model], init: 'zeros' }
]

const HEAD_ROWS: Row[] = [
  { key: 'lnfw', suffix: 'transformer.ln_f.weight', shape: c => [c.d_model], init: 'ones' },
  { key: 'lnfb', suffix: 'transformer.ln_f.bias', shape: c => [c.d_model], init: 'zeros' },
  { key: 'lmhead', suffix: 'lm_head.weight', shape: c => [c.vocab, c.d_model], init: 'normal' }
]

/** Builds the layout of stage `range`: embeddings (stage 0), layers first..last-1, head (last stage). */
export function stageLayout (config: GPTConfig, range: StageRange): StageLayout {
  const cfg = validateConfig(config)
  const r = validateRange(cfg, range)
  const views: ParamView[] = []
  let offset = 0
  const add = (row: Row, name: string, layer: number | null): ParamView => {
    const shape = row.shape(cfg)
    const size = shape.reduce((a, b) => a * b, 1)
    const v: ParamView = { name, key: row.key, layer, shape, size, offset, matrix: shape.length === 2, init: row.init }
    views.push(v)
    offset = alignElements(offset + size)
    return v
  }
  let embedding: Record<EmbeddingKey, ParamView> | null = null
  if (ownsEmbedding(r)) {
    embedding = {} as Record<EmbeddingKey, ParamView>
    for (const row of EMBEDDING_ROWS) embedding[row.key as EmbeddingKey] = add(row, row.suffix, null)
  }
  const layers: LayerViews[] = []
  for (let l = r.first; l < r.last; l++) {
    const lv = {} as LayerViews
    for (const row of LAYER_ROWS) lv[row.key as LayerKey] = add(row, `transformer.h.${l}.${row.suffix}`, l)
    layers.push(lv)
  }
  let head: Record<HeadKey, ParamView> | null = null
  if (ownsHead(cfg, r)) {
    head = {} as Record<HeadKey, ParamView>
    for (const row of HEAD_ROWS) head[row.key as HeadKey] = add(row, row.suffix, null)
  }
  const layerView = (l: number): LayerViews => {
    if (!Number.isInteger(l) || l < r.first || l >= r.last) throw new RangeError(`layer ${l} is not in stage [${r.first}, ${r.last})`)
    return layers[l - r.first]
  }
  return {
    config: cfg,
    range: r,
    views,
    totalElements: offset,
    paramCount: views.reduce((s, v) => s + v.size, 0),
    byName: new Map(views.map(v => [v.name, v])),
    embedding,
    head,
    layerView
  }
}

/** The elements of `v` inside a flat buffer (params, grads, m or v): a view, not a copy. */
export function viewOf<A extends Float32Array | Float64Array> (flat: A, v: ParamView): A {
  return flat.subarray(v.offset, v.offset + v.size) as A
}
