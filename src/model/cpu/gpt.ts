// Float64 reference of one GPT-2 pipeline stage (llm.c `gpt2_forward/backward`, restricted to a
// layer range). Stage 0 embeds tokens, the others take the residual stream (B,T,C) from the stage
// before; the last stage applies ln_f and the untied lm_head and returns the mean cross-entropy.
// Params and grads are flat Float64Arrays laid out by params.ts (float32 params convert exactly).
import { matmul } from './matmul.ts'
import { layernormBackward, layernormForward } from './layernorm.ts'
import { geluBackward, geluForward } from './gelu.ts'
import { embeddingBackward, embeddingForward } from './embedding.ts'
import { crossEntropyForwardBackward } from './crossentropy.ts'
import { attentionBackward, attentionForward } from './attention.ts'
import { viewOf, type ParamView, type StageLayout } from '../params.ts'
import { ModelInputError } from '../errors.ts'

interface LayerCache {
  inp: Float64Array // (B,T,C) residual in
  ln1: Float64Array; ln1Mean: Float64Array; ln1Rstd: Float64Array
  qkv: Float64Array // (B,T,3C)
  atty: Float64Array // (B,T,C)
  res2: Float64Array // (B,T,C) residual after attention
  ln2: Float64Array; ln2Mean: Float64Array; ln2Rstd: Float64Array
  fch: Float64Array // (B,T,4C) before GELU
  fchGelu: Float64Array // (B,T,4C)
}

export interface StageForwardResult {
  B: number
  T: number
  /** stage 0: the token ids (B,T) */
  tokens: Uint32Array | null
  /** other stages: the residual stream received (B,T,C) */
  input: Float64Array | null
  /** non-last stages: the residual stream to send on (B,T,C) */
  out: Float64Array | null
  /** last stage: (B,T,V) */
  logits: Float64Array | null
  /** last stage with targets: mean cross-entropy over B·T */
  loss: number | null
  /** last stage with targets: d loss / d logits (B,T,V) */
  dlogits: Float64Array | null
  layers: LayerCache[]
  /** last stage: the residual into ln_f and ln_f's output and statistics */
  lnfIn: Float64Array | null; lnf: Float64Array | null; lnfMean: Float64Array | null; lnfRstd: Float64Array | null
}

export interface StageBackwardResult {
  /** flat, same layout as the params; accumulated into when passed in */
  grads: Float64Array
  /** d loss / d input (B,T,C) for the previous stage; null on stage 0 */
  dinput: Float64Array | null
}

/**
 * input: token ids (B·T) on stage 0, else the residual stream (B·T·C).
 * targets (B·T) on the last stage give the loss; without them only logits are computed.
 */
export function stageForward (layout: StageLayout, params: Float64Array, input: Uint32Array | Float64Array, B: number, T: number, targets?: Uint32Array): StageForwardResult {
  const { config, range } = layout
  const C = config.d_model; const V = config.vocab; const NH = config.n_head
  const BT = B * T
  if (!Number.isInteger(B) || B < 1 || !Number.isInteger(T) || T < 1 || T > config.n_ctx) throw new ModelInputError(`B=${B}, T=${T}: need positive integers with T ≤ n_ctx=${config.n_ctx}`)
  if (params.length !== layout.totalElements) throw new ModelInputError(`params have ${params.length} elements, layout needs ${layout.totalElements}`)
  const p = (v: ParamView): Float64Array => viewOf(params, v)

  let x: Float64Array
  let tokens: Uint32Array | null = null
  let stageInput: Float64Array | null = null
  if (layout.embedding != null) {
    if (!(input instanceof Uint32Array) || input.length !== BT) throw new ModelInputError(`stage 0 takes B·T = ${BT} token ids (Uint32Array)`)
    for (const t of input) if (t >= V) throw new ModelInputError(`token ${t} is outside the vocabulary (${V})`)
    tokens = input
    x = embeddingForward(input, p(layout.embedding.wte), p(layout.embedding.wpe), B, T, C)
  } else {
    if (!(input instanceof Float64Array) || input.length !== BT * C) throw new ModelInputError(`stage [${range.first}, ${range.last}) takes a (B,T,C) = ${BT * C}-element Float64Array`)
    stageInput = input
    x = input
  }

  const layers: LayerCache[] = []
  for (let l = range.first; l < range.last; l++) {
    const w = layout.layerView(l)
    const inp = x
    const n1 = layernormForward(inp, p(w.ln1w), p(w.ln1b), BT, C)
    const qkv = matmul(n1.out, p(w.qkvw), BT, C, 3 * C, 'nn', p(w.qkvb))
    const atty = attentionForward(qkv, B, T, C, NH).out
    const res2 = add(inp, matmul(atty, p(w.attprojw), BT, C, C, 'nn', p(w.attprojb)))
    const n2 = layernormForward(res2, p(w.ln2w), p(w.ln2b), BT, C)
    const fch = matmul(n2.out, p(w.fcw), BT, C, 4 * C, 'nn', p(w.fcb))
    const fchGelu = geluForward(fch)
    x = add(res2, matmul(fchGelu, p(w.fcprojw), BT, 4 * C, C, 'nn', p(w.fcprojb)))
    layers.push({ inp, ln1: n1.out, ln1Mean: n1.mean, ln1Rstd: n1.rstd, qkv, atty, res2, ln2: n2.out, ln2Mean: n2.mean, ln2Rstd: n2.rstd, fch, fchGelu })
  }

  const result: StageForwardResult = { B, T, tokens, input: stageInput, out: null, logits: null, loss: null, dlogits: null, layers, lnfIn: null, lnf: null, lnfMean: null, lnfRstd: null }
  if (layout.head == null) {
    result.out = x
    return result
  }
  const nf = layernormForward(x, p(layout.head.lnfw), p(layout.head.lnfb), BT, C)
  result.lnfIn = x; result.lnf = nf.out; result.lnfMean = nf.mean; result.lnfRstd = nf.rstd
  result.logits = matmul(nf.out, p(layout.head.lmhead), BT, C, V, 'nt') // lm_head is [V, C]
  if (targets != null) {
    if (targets.length !== BT) throw new ModelInputError(`targets have ${targets.length} entries, need B·T = ${BT}`)
    for (const t of targets) if (t >= V) throw new ModelInputError(`target ${t} is outside the vocabulary (${V})`)
    const ce = crossEntropyForwardBackward(result.logits, targets, BT, V)
    result.loss = ce.loss
    result.dlogits = ce.dlogits
  }
  return result
}

/**
 * Backward through the stage. The last stage starts from its loss (forward needs targets); the
 * others take dout = d loss / d out (B,T,C) from the next stage. Gradients are added into `grads`.
 */
export function stageBackward (layout: StageLayout, params: Float64Array, fwd: StageForwardResult, dout?: Float64Array, grads?: Float64Array): StageBackwardResult {
  const { config, range } = layout
  const C = config.d_model; const V = config.vocab; const NH = config.n_head
  const { B, T } = fwd
  const BT = B * T
  const g = grads ?? new Float64Array(layout.totalElements)
  if (g.length !== layout.totalElements) throw new ModelInputError(`grads have ${g.length} elements, layout needs ${layout.totalElements}`)
  const p = (v: ParamView): Float64Array => viewOf(params, v)
  const acc = (v: ParamView, d: Float64Array): void => { const t = viewOf(g, v); for (let i = 0; i < t.length; i++) t[i] += d[i] }

  let dx: Float64Array
  if (layout.head != null) {
    if (fwd.dlogits == null || fwd.lnf == null || fwd.lnfIn == null || fwd.lnfMean == null || fwd.lnfRstd == null) throw new ModelInputError('the last stage backward needs a forward with targets')
    const h = layout.head
    const dlnf = matmul(fwd.dlogits, p(h.lmhead), BT, V, C, 'nn')
    acc(h.lmhead, matmul(fwd.dlogits, fwd.lnf, V, BT, C, 'tn'))
    const nf = layernormBackward(dlnf, fwd.lnfIn, p(h.lnfw), fwd.lnfMean, fwd.lnfRstd, BT, C)
    acc(h.lnfw, nf.dweight); acc(h.lnfb, nf.dbias)
    dx = nf.dinp
  } else {
    if (dout == null || dout.length !== BT * C) throw new ModelInputError(`stage [${range.first}, ${range.last}) backward needs dout with B·T·C = ${BT * C} elements`)
    dx = dout
  }

  for (let l = range.last - 1; l >= range.first; l--) {
    const w = layout.layerView(l)
    const a = fwd.layers[l - range.first]
    // MLP: x3 = res2 + fcproj(gelu(fc(ln2(res2))))
    const dfchGelu = linearBackward(dx, a.fchGelu, p(w.fcprojw), BT, 4 * C, C, g, w.fcprojw, w.fcprojb)
    const dfch = geluBackward(a.fch, dfchGelu)
    const dln2 = linearBackward(dfch, a.ln2, p(w.fcw), BT, C, 4 * C, g, w.fcw, w.fcb)
    const n2 = layernormBackward(dln2, a.res2, p(w.ln2w), a.ln2Mean, a.ln2Rstd, BT, C)
    acc(w.ln2w, n2.dweight); acc(w.ln2b, n2.dbias)
    const dres2 = add(dx, n2.dinp)
    // attention: res2 = inp + attproj(attn(qkv(ln1(inp))))
    const datty = linearBackward(dres2, a.atty, p(w.attprojw), BT, C, C, g, w.attprojw, w.attprojb)
    const dqkv = attentionBackward(datty, a.qkv, B, T, C, NH)
    const dln1 = linearBackward(dqkv, a.ln1, p(w.qkvw), BT, C, 3 * C, g, w.qkvw, w.qkvb)
    const n1 = layernormBackward(dln1, a.inp, p(w.ln1w), a.ln1Mean, a.ln1Rstd, BT, C)
    acc(w.ln1w, n1.dweight); acc(w.ln1b, n1.dbias)
    dx = add(dres2, n1.dinp)
  }

  if (layout.embedding != null) {
    if (fwd.tokens == null) throw new ModelInputError('stage 0 backward needs the forward tokens')
    const e = embeddingBackward(dx, fwd.tokens, B, T, C, V, config.n_ctx)
    acc(layout.embedding.wte, e.dwte); acc(layout.embedding.wpe, e.dwpe)
    return { grads: g, dinput: null }
  }
  return { grads: g, dinput: dx }
}

// ---- helpers

function add (a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i]
  return out
}

/** y = inp·W + b with W [IC, OC]: adds dW = inpᵀ·dout, db = Σ dout into grads; returns dinp = dout·Wᵀ. */
function linearBackward (dout: Float64Array, inp: Float64Array, weight: Float64Array, BT: number, IC: number, OC: number, grads: Float64Array, wv: ParamView, bv: ParamView): Float64Array {
  const dw = matmul(inp, dout, IC, BT, OC, 'tn')
  const gw = viewOf(grads, wv)
  for (let i = 0; i < gw.length; i++) gw[i] += dw[i]
  const gb = viewOf(grads, bv)
  for (let r = 0; r < BT; r++) for (let o = 0; o < OC; o++) gb[o] += dout[r * OC + o]
  return matmul(dout, weight, BT, OC, IC, 'nt')
}
