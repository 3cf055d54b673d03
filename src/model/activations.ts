// The ordered spec table of a stage's activations for one microbatch (B, T): what forward saves for
// backward, as llm.c's ActivationTensors (minus preatt/att: attention keeps only its log-sum-exp, as
// the flash kernels do). One flat buffer with views at 64-element-aligned offsets, like params.ts.
import { alignElements } from '../gpu/tensor.ts'
import type { DType } from '../gpu/tensor.ts'
import { ownsEmbedding, ownsHead, validateRange, type GPTConfig, type StageRange } from './config.ts'
import { ConfigError } from './errors.ts'

export type ActLayerKey = 'ln1' | 'ln1Mean' | 'ln1Rstd' | 'qkv' | 'atty' | 'attLse' | 'attproj' | 'res2' | 'ln2' | 'ln2Mean' | 'ln2Rstd' | 'fch' | 'fchGelu' | 'fcproj' | 'res3'
export type ActHeadKey = 'lnf' | 'lnfMean' | 'lnfRstd' | 'logits' | 'losses'

export interface ActView {
  /** 'input', 'tokens', 'h.3.qkv', 'lnf', … */
  name: string
  layer: number | null
  shape: readonly number[]
  size: number
  /** element offset, a multiple of VIEW_ALIGN_ELEMENTS */
  offset: number
  dtype: DType
}

export type ActLayerViews = Record<ActLayerKey, ActView>

export interface ActivationLayout {
  B: number
  T: number
  views: readonly ActView[]
  totalElements: number
  byName: ReadonlyMap<string, ActView>
  /** stage 0: token ids (B,T) u32 */
  tokens: ActView | null
  /** last stage: targets (B,T) u32 */
  targets: ActView | null
  /** (B,T,C): stage 0's embedding output, else the residual stream received from the stage before */
  input: ActView
  /** (B,T,C): what goes to the next stage (the last layer's res3) */
  output: ActView
  head: Record<ActHeadKey, ActView> | null
  layerView: (l: number) => ActLayerViews
}

export function activationLayout (config: GPTConfig, range: StageRange, B: number, T: number): ActivationLayout {
  const r = validateRange(config, range)
  if (!Number.isInteger(B) || B < 1 || !Number.isInteger(T) || T < 1 || T > config.n_ctx) throw new ConfigError(`B=${B}, T=${T}: need positive integers with T ≤ n_ctx=${config.n_ctx}`)
  const C = config.d_model; const NH = config.n_head; const V = config.vocab
  const views: ActView[] = []
  let offset = 0
  const add = (name: string, layer: number | null, shape: number[], dtype: DType = 'f32'): ActView => {
    const size = shape.reduce((a, b) => a * b, 1)
    const v: ActView = { name, layer, shape, size, offset, dtype }
    views.push(v)
    offset = alignElements(offset + size)
    return v
  }
  const tokens = ownsEmbedding(r) ? add('tokens', null, [B, T], 'u32') : null
  const input = add('input', null, [B, T, C])
  const layers: ActLayerViews[] = []
  for (let l = r.first; l < r.last; l++) {
    const p = `h.${l}.`
    layers.push({
      ln1: add(p + 'ln1', l, [B, T, C]),
      ln1Mean: add(p + 'ln1Mean', l, [B, T]),
      ln1Rstd: add(p + 'ln1Rstd', l, [B, T]),
      qkv: add(p + 'qkv', l, [B, T, 3 * C]),
      atty: add(p + 'atty', l, [B, T, C]),
      attLse: add(p + 'attLse', l, [B, NH, T]),
      attproj: add(p + 'attproj', l, [B, T, C]),
      res2: add(p + 'res2', l, [B, T, C]),
      ln2: add(p + 'ln2', l, [B, T, C]),
      ln2Mean: add(p + 'ln2Mean', l, [B, T]),
      ln2Rstd: add(p + 'ln2Rstd', l, [B, T]),
      fch: add(p + 'fch', l, [B, T, 4 * C]),
      fchGelu: add(p + 'fchGelu', l, [B, T, 4 * C]),
      fcproj: add(p + 'fcproj', l, [B, T, C]),
      res3: add(p + 'res3', l, [B, T, C])
    })
  }
  let head: Record<ActHeadKey, ActView> | null = null
  let targets: ActView | null = null
  if (ownsHead(config, r)) {
    head = {
      lnf: add('lnf', null, [B, T, C]),
      lnfMean: add('lnfMean', null, [B, T]),
      lnfRstd: add('lnfRstd', null, [B, T]),
      logits: add('logits', null, [B, T, V]), // backward overwrites it with dlogits
      losses: add('losses', null, [B, T])
    }
    targets = add('targets', null, [B, T], 'u32')
  }
  const layerView = (l: number): ActLayerViews => {
    if (!Number.isInteger(l) || l < r.first || l >= r.last) throw new RangeError(`layer ${l} is not in stage [${r.first}, ${r.last})`)
    return layers[l - r.first]
  }
  return { B, T, views, totalElements: offset, byName: new Map(views.map(v => [v.name, v])), tokens, targets, input, output: layers[layers.length - 1].res3, head, layerView }
}
