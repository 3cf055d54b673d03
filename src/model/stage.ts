// One GPT-2 pipeline stage on the GPU (llm.c `gpt2_forward/backward/update`, restricted to a layer
// range). Parameters, gradients and AdamW's m and v are each ONE flat buffer laid out by params.ts;
// activations follow activations.ts (split over two buffers, see stage-buffers.ts). Every kernel
// plan is built once here, and each phase's dispatches are recorded once (DispatchList) and
// replayed; forward, backward and step each submit once, reading back only what leaves the stage
// (activations, d(input), the loss when asked). trainStep does a one-stage step in one submit.
import { Matmul, type MatmulLayout, type TileConfig } from '../gpu/kernels/matmul.ts'
import type { MatmulEpilogue } from '../gpu/kernels/matmul-main.ts'
import type { MatmulTuner } from '../gpu/autotune.ts'
import { LayerNorm } from '../gpu/kernels/layernorm.ts'
import { Residual } from '../gpu/kernels/residual.ts'
import { Attention, tuneAttention, type AttentionInit } from '../gpu/kernels/attention.ts'
import { Embedding, buildTokenIndex } from '../gpu/kernels/embedding.ts'
import { CrossEntropy } from '../gpu/kernels/crossentropy.ts'
import { BiasGrad } from '../gpu/kernels/bias-grad.ts'
import { AdamW } from '../gpu/kernels/adamw.ts'
import { GradNorm } from '../gpu/kernels/grad-norm.ts'
import { createBuffer, view, type GpuTensor } from '../gpu/tensor.ts'
import { DispatchList } from '../gpu/dispatch-list.ts'
import { ReadbackPool } from '../gpu/readback-pool.ts'
import { LimitError } from '../gpu/errors.ts'
import { ownsHead, validateConfig, validateRange, type GPTConfig, type StageRange } from './config.ts'
import { stageLayout, type ParamView, type StageLayout } from './params.ts'
import { activationLayout, type ActivationLayout } from './activations.ts'
import { placeActivations, placeScratch, type ActivationPlacement, type ScratchPlacement } from './stage-buffers.ts'
import { initStageParams } from './init.ts'
import { ModelInputError } from './errors.ts'

export interface GptStageInit {
  /** microbatch rows */
  B: number
  /** sequence length, ≤ n_ctx */
  T: number
  /** deterministic init (init.ts); ignored when params are given. @default 0 */
  seed?: number
  /** initial flat float32 parameters laid out by params.ts (e.g. from a checkpoint) */
  params?: Float32Array
  /** prefix of every GPU object's label. @default 'stage[first,last)' */
  label?: string
  /**
   * Microbatches that can be between forward and backward at once, each with its own activation
   * buffers (a pipelined stage forwards the next microbatch before the last one's gradient is
   * back). @default 1
   */
  slots?: number
  /**
   * Tile config per matmul (e.g. the autotuner's, see createTunedStage); undefined keeps the
   * default. @default none
   */
  matmulConfig?: (problem: StageMatmul) => TileConfig | undefined
  /** flash-attention block configs (e.g. tuneAttention's). @default the kernel's defaults */
  attention?: AttentionInit
}

/** One of a stage's matmul plans: its role and shape. */
export interface StageMatmul {
  name: string
  M: number
  K: number
  N: number
  layout: MatmulLayout
  bias: boolean
  accumulate: boolean
  /** a fused GELU (fc: and gelu(out); dfch: times gelu'(fch)) */
  epilogue?: MatmulEpilogue
}

/**
 * The matmuls of a stage for microbatch (B, T), each planned once and shared by every layer:
 * forward y = x·W + b (nn, W [IC, OC]), backward dW += xᵀ·dy (tn) and dx = dy·Wᵀ (nt).
 */
export function stageMatmuls (config: GPTConfig, range: StageRange, B: number, T: number): StageMatmul[] {
  const C = config.d_model; const V = config.vocab; const BT = B * T
  const out: StageMatmul[] = []
  const mm = (name: string, M: number, K: number, N: number, layout: MatmulLayout, bias = false, accumulate = false, epilogue?: MatmulEpilogue): void => { out.push({ name, M, K, N, layout, bias, accumulate, ...(epilogue != null ? { epilogue } : {}) }) }
  mm('qkv', BT, C, 3 * C, 'nn', true)
  mm('attproj', BT, C, C, 'nn', true)
  mm('fc', BT, C, 4 * C, 'nn', true, false, 'gelu')
  mm('fcproj', BT, 4 * C, C, 'nn', true)
  mm('dqkvw', C, BT, 3 * C, 'tn', false, true)
  mm('dattprojw', C, BT, C, 'tn', false, true)
  mm('dfcw', C, BT, 4 * C, 'tn', false, true)
  mm('dfcprojw', 4 * C, BT, C, 'tn', false, true)
  mm('dln1', BT, 3 * C, C, 'nt')
  mm('datty', BT, C, C, 'nt')
  mm('dln2', BT, 4 * C, C, 'nt')
  mm('dfch', BT, C, 4 * C, 'nt', false, false, 'gelu-backward')
  if (ownsHead(config, range)) {
    mm('logits', BT, C, V, 'nt') // lm_head is [V, C]
    mm('dlnf', BT, V, C, 'nn')
    mm('dlmhead', V, BT, C, 'tn', false, true)
  }
  return out
}

/**
 * A stage whose matmuls use the tuner's tile config for their shape class (timed once per class,
 * then remembered by the tuner's store) and, with `attention`, block configs timed for its shape.
 */
export async function createTunedStage (device: GPUDevice, tuner: MatmulTuner, config: GPTConfig, range: StageRange, init: GptStageInit, opts: { attention?: boolean } = {}): Promise<GptStage> {
  const configs = new Map<string, TileConfig>()
  for (const p of stageMatmuls(config, range, init.B, init.T)) configs.set(p.name, await tuner.configFor(p))
  const attention = opts.attention === true ? await tuneAttention(tuner.tg, init.B, init.T, config.d_model, config.n_head) : init.attention
  return new GptStage(device, config, range, { ...init, matmulConfig: p => configs.get(p.name), attention })
}

export interface StepOptions {
  lr: number
  /** @default 0.9 */
  beta1?: number
  /** @default 0.95 */
  beta2?: number
  /** @default 1e-8 */
  eps?: number
  /** decoupled, matrices only. @default 0 */
  weightDecay?: number
  /** clip this stage's gradient norm (after gradScale) to this; 0 = off. @default 0 */
  gradClip?: number
  /** multiplies the gradient first, e.g. 1/k for k accumulated microbatches. @default 1 */
  gradScale?: number
}

export interface AdamState {
  /** optimizer steps taken (bias correction) */
  step: number
  m: Float32Array
  v: Float32Array
}

/** One microbatch's activations, from its forward until its backward. */
interface Slot {
  acts: GPUBuffer
  mm: GPUBuffer
  tokenIndex: GPUBuffer | null
  /** what the last forward left: 'loss' (dlogits ready), 'logits', 'output', or spent */
  state: 'none' | 'loss' | 'logits' | 'output'
  /** the losses view holds the last forward-with-targets' losses (backward leaves them) */
  hasLosses: boolean
  /** mean loss read back with backward's d(input), so loss() costs no extra GPU round trip */
  loss: number | null
  /** trainSteps run in this slot: a deferred loss lands only if no later step replaced it */
  trainSteps: number
}

// ---- the stage

export class GptStage {
  readonly config: GPTConfig
  readonly range: StageRange
  readonly layout: StageLayout
  readonly acts: ActivationLayout
  readonly B: number
  readonly T: number
  readonly isFirst: boolean
  readonly isLast: boolean
  readonly label: string
  readonly #device: GPUDevice
  // flat buffers
  readonly #params: GPUBuffer
  readonly #grads: GPUBuffer
  readonly #m: GPUBuffer
  readonly #v: GPUBuffer
  readonly slots: number
  readonly #slots: Slot[]
  readonly #place: ActivationPlacement
  readonly #scratch: ScratchPlacement
  readonly #res: GPUBuffer
  readonly #mid: GPUBuffer
  readonly #normOut: GpuTensor // [clip scale, norm, sum of squares]
  // plans
  readonly #mm: Record<string, Matmul> = {}
  readonly #ln: LayerNorm
  readonly #residual: Residual
  readonly #attention: Attention
  readonly #bias: { C: BiasGrad, C3: BiasGrad, C4: BiasGrad }
  readonly #embedding: Embedding | null
  readonly #ce: CrossEntropy | null
  readonly #adamw: AdamW
  readonly #gradNorms = new Map<number, GradNorm>()
  // Dispatch lists recorded on first use and replayed every step: bind groups are made once.
  readonly #lists = new Map<string, DispatchList>()
  // readback staging, reused
  readonly #staging = new Map<string, GPUBuffer>()
  readonly #trainReadback: ReadbackPool
  #stepCount = 0

  constructor (device: GPUDevice, config: GPTConfig, range: StageRange, init: GptStageInit) {
    this.config = validateConfig(config)
    this.range = validateRange(this.config, range)
    const { B, T } = init
    this.acts = activationLayout(this.config, this.range, B, T) // checks B, T
    this.layout = stageLayout(this.config, this.range)
    this.B = B; this.T = T
    this.isFirst = this.layout.embedding != null
    this.isLast = this.layout.head != null
    this.label = init.label ?? `stage[${this.range.first},${this.range.last})`
    this.#device = device
    const { d_model: C, vocab: V, n_head: NH, n_ctx: maxT } = this.config
    const BT = B * T
    const n = this.layout.totalElements

    this.#place = placeActivations(this.acts)
    this.#scratch = placeScratch(BT, C)
    // Say which buffer and what to change, instead of a validation error from createBuffer.
    const MiB = (elements: number): string => (elements * 4 / 2 ** 20).toFixed(1)
    for (const [what, elements] of [['parameters', n], ['activations', this.#place.sizes.acts], ['matmul activations', this.#place.sizes.mm], ['backward scratch', this.#scratch.mid.size]] as const) {
      if (elements * 4 > device.limits.maxBufferSize) throw new LimitError(`${this.label}: ${what} need ${MiB(elements)} MiB in one buffer, this adapter allows ${MiB(device.limits.maxBufferSize / 4)} MiB: lower B or T, or use more stages`)
    }
    this.#params = createBuffer(device, n, `${this.label}.params`)
    this.#grads = createBuffer(device, n, `${this.label}.grads`)
    this.#m = createBuffer(device, n, `${this.label}.adam_m`)
    this.#v = createBuffer(device, n, `${this.label}.adam_v`)
    const slots = init.slots ?? 1
    if (!Number.isInteger(slots) || slots < 1) throw new ModelInputError(`${this.label}: slots must be a positive integer, got ${slots}`)
    this.slots = slots
    this.#res = createBuffer(device, this.#scratch.res.size, `${this.label}.dres`)
    this.#mid = createBuffer(device, this.#scratch.mid.size, `${this.label}.dmid`)
    this.#normOut = view(createBuffer(device, 4, `${this.label}.grad_norm`), 0, [3])
    const params = init.params ?? initStageParams(this.layout, init.seed ?? 0)
    this.importParams(params)

    // Plans: one per shape, shared by every layer (each encode only records commands).
    for (const p of stageMatmuls(this.config, this.range, B, T)) {
      this.#mm[p.name] = new Matmul(device, { ...p, config: init.matmulConfig?.(p), label: `${this.label}.${p.name}` })
    }
    this.#ln = new LayerNorm(device, BT, C)
    this.#residual = new Residual(device, [BT, C])
    this.#attention = new Attention(device, B, T, C, NH, init.attention)
    this.#bias = { C: new BiasGrad(device, BT, C), C3: new BiasGrad(device, BT, 3 * C), C4: new BiasGrad(device, BT, 4 * C) }
    this.#embedding = this.isFirst ? new Embedding(device, B, T, C, V, maxT) : null
    this.#slots = Array.from({ length: slots }, (_, i): Slot => ({
      acts: createBuffer(device, this.#place.sizes.acts, `${this.label}.acts${i}`),
      mm: createBuffer(device, Math.max(1, this.#place.sizes.mm), `${this.label}.acts_mm${i}`),
      tokenIndex: this.#embedding != null ? createBuffer(device, this.#embedding.indexLength, `${this.label}.token_index${i}`) : null,
      state: 'none',
      hasLosses: false,
      loss: null,
      trainSteps: 0
    }))
    this.#ce = this.isLast ? new CrossEntropy(device, BT, V) : null
    this.#adamw = new AdamW(device, n, this.layout.views.map(v => ({ offset: v.offset, length: v.size, decay: v.matrix })))
    this.#trainReadback = new ReadbackPool(device, TRAIN_READBACK_LOSSES + BT, `${this.label}.train_readback`)
  }

  /** Optimizer steps taken so far. */
  get stepCount (): number {
    return this.#stepCount
  }

  // ---- forward

  /**
   * Stage 0 takes token ids (B·T), the others the residual stream (B,T,C). Non-last stages return
   * their output (B,T,C), read back to go over the network. The last stage returns null; with
   * targets it computes the per-position losses and d loss/d logits (read with `loss()`),
   * without them only the logits (read with `logits()`).
   */
  async forward (input: Uint32Array | Float32Array, targets?: Uint32Array, slot = 0): Promise<Float32Array | null> {
    const sl = this.#slot(slot)
    const BT = this.B * this.T
    const C = this.config.d_model
    const q = this.#device.queue
    this.#writeInputs(sl, input, targets)

    const enc = this.#device.createCommandEncoder({ label: `${this.label}.forward` })
    const pass = enc.beginComputePass({ label: `${this.label}.forward` })
    this.#forwardList(slot, targets != null).encode(pass)
    pass.end()
    sl.loss = null
    sl.trainSteps++ // a trainStep's loss still in flight is no longer this slot's
    if (!this.isLast) {
      const out = this.#act(sl, this.acts.output.name)
      const staging = this.#stagingFor(`output${slot}`, BT * C)
      enc.copyBufferToBuffer(out.buffer, out.offset * 4, staging, 0, BT * C * 4)
      q.submit([enc.finish()])
      sl.state = 'output'
      return await this.#read(staging, BT * C)
    }
    q.submit([enc.finish()])
    sl.state = targets != null ? 'loss' : 'logits'
    sl.hasLosses = targets != null
    return null
  }

  /** Checks and uploads a microbatch's input (token ids on stage 0, else the residual stream) and targets. */
  #writeInputs (sl: Slot, input: Uint32Array | Float32Array, targets: Uint32Array | undefined): void {
    const { B, T } = this
    const { d_model: C, vocab: V } = this.config
    const BT = B * T
    if (this.isFirst) {
      if (!(input instanceof Uint32Array) || input.length !== BT) throw new ModelInputError(`${this.label} takes B·T = ${BT} token ids (Uint32Array)`)
      for (const t of input) if (t >= V) throw new ModelInputError(`token ${t} is outside the vocabulary (${V})`)
      this.#write(sl, this.acts.tokens!.name, input)
      this.#device.queue.writeBuffer(sl.tokenIndex!, 0, buildTokenIndex(input, B, T, V) as Uint32Array<ArrayBuffer>)
    } else {
      if (!(input instanceof Float32Array) || input.length !== BT * C) throw new ModelInputError(`${this.label} takes a (B,T,C) = ${BT * C}-element Float32Array`)
      this.#write(sl, this.acts.input.name, input)
    }
    if (targets != null) {
      if (!this.isLast) throw new ModelInputError(`${this.label} is not the last stage: it takes no targets`)
      if (targets.length !== BT) throw new ModelInputError(`targets have ${targets.length} entries, need B·T = ${BT}`)
      for (const t of targets) if (t >= V) throw new ModelInputError(`target ${t} is outside the vocabulary (${V})`)
      this.#write(sl, this.acts.targets!.name, targets)
    }
  }

  /** Last stage, after a forward with targets: mean cross-entropy over B·T (a readback). */
  async loss (slot = 0): Promise<number> {
    const sl = this.#slot(slot)
    if (!sl.hasLosses) throw new ModelInputError(`${this.label}: loss() needs a last-stage forward with targets`)
    return sl.loss ?? meanOf(await this.#readView(sl, this.acts.head!.losses.name))
  }

  /** Last stage, after a forward without targets: logits (B,T,V). */
  async logits (slot = 0): Promise<Float32Array> {
    const sl = this.#slot(slot)
    if (sl.state !== 'logits') throw new ModelInputError(`${this.label}: logits() needs a last-stage forward without targets`)
    return await this.#readView(sl, this.acts.head!.logits.name)
  }

  #encodeForward (pass: GPUComputePassEncoder, sl: Slot, withTargets: boolean): void {
    const { B, T } = this
    const C = this.config.d_model
    const BT = B * T
    const p = (v: ParamView): GpuTensor => this.#param(v)
    const a = (name: string, shape?: number[]): GpuTensor => this.#act(sl, name, shape)
    const m = this.#mm
    let x = a(this.acts.input.name, [BT, C])
    if (this.#embedding != null) {
      const e = this.layout.embedding!
      this.#embedding.forward(pass, a(this.acts.input.name), a(this.acts.tokens!.name), p(e.wte), p(e.wpe))
    }
    // res3 = res2 + fcproj is left to the LayerNorm that reads it next (ln1 or lnf).
    let pending: [GpuTensor, GpuTensor] | null = null
    for (let l = this.range.first; l < this.range.last; l++) {
      const w = this.layout.layerView(l)
      const v = this.acts.layerView(l)
      const ln1 = a(v.ln1.name, [BT, C]); const qkv = a(v.qkv.name, [BT, 3 * C])
      const atty = a(v.atty.name, [BT, C]); const attproj = a(v.attproj.name, [BT, C]); const res2 = a(v.res2.name, [BT, C])
      const ln2 = a(v.ln2.name, [BT, C]); const fch = a(v.fch.name, [BT, 4 * C]); const fchGelu = a(v.fchGelu.name, [BT, 4 * C])
      const fcproj = a(v.fcproj.name, [BT, C]); const res3 = a(v.res3.name, [BT, C])
      // x = the previous layer's res2 + fcproj, added here by ln1 (one dispatch for both)
      if (pending != null) this.#ln.forwardResidual(pass, ln1, a(v.ln1Mean.name, [BT]), a(v.ln1Rstd.name, [BT]), x, pending[0], pending[1], p(w.ln1w), p(w.ln1b))
      else this.#ln.forward(pass, ln1, a(v.ln1Mean.name, [BT]), a(v.ln1Rstd.name, [BT]), x, p(w.ln1w), p(w.ln1b))
      m.qkv.encode(pass, ln1, p(w.qkvw), qkv, p(w.qkvb))
      this.#attention.forward(pass, a(v.atty.name), a(v.attLse.name), a(v.qkv.name))
      m.attproj.encode(pass, atty, p(w.attprojw), attproj, p(w.attprojb))
      this.#ln.forwardResidual(pass, ln2, a(v.ln2Mean.name, [BT]), a(v.ln2Rstd.name, [BT]), res2, x, attproj, p(w.ln2w), p(w.ln2b))
      m.fc.encode(pass, ln2, p(w.fcw), fch, p(w.fcb), fchGelu) // and fchGelu = gelu(fch)
      m.fcproj.encode(pass, fchGelu, p(w.fcprojw), fcproj, p(w.fcprojb))
      pending = [res2, fcproj]
      x = res3
    }
    if (this.isLast) {
      const h = this.layout.head!
      const ah = this.acts.head!
      const lnf = a(ah.lnf.name, [BT, C])
      const logits = a(ah.logits.name, [BT, this.config.vocab])
      this.#ln.forwardResidual(pass, lnf, a(ah.lnfMean.name, [BT]), a(ah.lnfRstd.name, [BT]), x, pending![0], pending![1], p(h.lnfw), p(h.lnfb))
      m.logits.encode(pass, lnf, p(h.lmhead), logits)
      // Fused and in place (llm.c): logits become d(mean loss)/d logits.
      if (withTargets) this.#ce!.forwardBackward(pass, a(ah.losses.name, [BT]), logits, logits, a(this.acts.targets!.name, [BT]))
    } else {
      this.#residual.forward(pass, x, pending![0], pending![1]) // the stage's output
    }
  }

  // ---- backward

  /**
   * Accumulates (+=) every parameter gradient. The last stage starts from the loss of its forward
   * (with targets); the others take d loss/d output (B,T,C). Returns d loss/d input (B,T,C), read
   * back for the stage before; null on stage 0.
   */
  async backward (dOutput?: Float32Array, slot = 0): Promise<Float32Array | null> {
    const sl = this.#slot(slot)
    const BT = this.B * this.T
    const C = this.config.d_model
    const q = this.#device.queue
    const dres = this.#dres()
    const enc = this.#device.createCommandEncoder({ label: `${this.label}.backward` })
    if (this.isLast) {
      if (sl.state !== 'loss') throw new ModelInputError(`${this.label}: backward needs a forward with targets first`)
      enc.clearBuffer(this.#res, dres.offset * 4, BT * C * 4) // LayerNorm backward accumulates into it
    } else {
      if (sl.state !== 'output') throw new ModelInputError(`${this.label}: backward needs a forward first`)
      if (dOutput == null || dOutput.length !== BT * C) throw new ModelInputError(`${this.label} backward takes d(output) with B·T·C = ${BT * C} elements`)
      q.writeBuffer(this.#res, dres.offset * 4, dOutput as Float32Array<ArrayBuffer>)
    }
    const pass = enc.beginComputePass({ label: `${this.label}.backward` })
    this.#backwardList(slot).encode(pass)
    pass.end()
    sl.state = 'none' // the logits are spent, and a second backward would double-count
    if (this.isFirst) {
      q.submit([enc.finish()])
      return null
    }
    const staging = this.#stagingFor(`dinput${slot}`, BT * C)
    enc.copyBufferToBuffer(this.#res, dres.offset * 4, staging, 0, BT * C * 4)
    // The last stage waits for d(input) anyway: bring the losses back in the same round trip.
    let lossStaging: GPUBuffer | null = null
    if (this.isLast) {
      const losses = this.#act(sl, this.acts.head!.losses.name)
      lossStaging = this.#stagingFor(`losses${slot}`, BT)
      enc.copyBufferToBuffer(losses.buffer, losses.offset * 4, lossStaging, 0, BT * 4)
    }
    q.submit([enc.finish()])
    const [dinput, losses] = await Promise.all([this.#read(staging, BT * C), lossStaging != null ? this.#read(lossStaging, BT) : null])
    if (losses != null) sl.loss = meanOf(losses)
    return dinput
  }

  #encodeBackward (pass: GPUComputePassEncoder, sl: Slot): void {
    const { B, T } = this
    const C = this.config.d_model
    const BT = B * T
    const p = (v: ParamView): GpuTensor => this.#param(v)
    const g = (v: ParamView): GpuTensor => this.#grad(v)
    const a = (name: string, shape?: number[]): GpuTensor => this.#act(sl, name, shape)
    const m = this.#mm
    const s = this.#scratch
    const dres = this.#dres()
    const dln = view(this.#res, s.res.dln, [BT, C])
    const dfch = view(this.#mid, s.mid.dfch, [BT, 4 * C])
    const datty = view(this.#mid, s.mid.datty, [BT, C])
    const dqkv = view(this.#mid, s.mid.dqkv, [BT, 3 * C])
    const layerInput = (l: number): GpuTensor => l === this.range.first ? a(this.acts.input.name, [BT, C]) : a(this.acts.layerView(l - 1).res3.name, [BT, C])

    if (this.isLast) {
      const h = this.layout.head!
      const ah = this.acts.head!
      const dlogits = a(ah.logits.name, [BT, this.config.vocab])
      m.dlnf.encode(pass, dlogits, p(h.lmhead), dln)
      m.dlmhead.encode(pass, dlogits, a(ah.lnf.name, [BT, C]), g(h.lmhead))
      this.#ln.backward(pass, dres, g(h.lnfw), g(h.lnfb), dln, layerInput(this.range.last), p(h.lnfw), a(ah.lnfMean.name, [BT]), a(ah.lnfRstd.name, [BT]))
    }
    for (let l = this.range.last - 1; l >= this.range.first; l--) {
      const w = this.layout.layerView(l)
      const v = this.acts.layerView(l)
      // MLP: res3 = res2 + fcproj(gelu(fc(ln2(res2)))); dres holds d res3
      m.dfcprojw.encode(pass, a(v.fchGelu.name, [BT, 4 * C]), dres, g(w.fcprojw))
      this.#bias.C.backward(pass, g(w.fcprojb), dres)
      m.dfch.encode(pass, dres, p(w.fcprojw), dfch, undefined, a(v.fch.name, [BT, 4 * C])) // times gelu'(fch)
      m.dfcw.encode(pass, a(v.ln2.name, [BT, C]), dfch, g(w.fcw))
      this.#bias.C4.backward(pass, g(w.fcb), dfch)
      m.dln2.encode(pass, dfch, p(w.fcw), dln)
      // dres += LayerNorm's dinp: now d res2
      this.#ln.backward(pass, dres, g(w.ln2w), g(w.ln2b), dln, a(v.res2.name, [BT, C]), p(w.ln2w), a(v.ln2Mean.name, [BT]), a(v.ln2Rstd.name, [BT]))
      // attention: res2 = x + attproj(attn(qkv(ln1(x))))
      m.dattprojw.encode(pass, a(v.atty.name, [BT, C]), dres, g(w.attprojw))
      this.#bias.C.backward(pass, g(w.attprojb), dres)
      m.datty.encode(pass, dres, p(w.attprojw), datty)
      this.#attention.backward(pass, view(this.#mid, s.mid.dqkv, [B, T, 3 * C]), view(this.#mid, s.mid.datty, [B, T, C]), a(v.qkv.name), a(v.atty.name), a(v.attLse.name))
      m.dqkvw.encode(pass, a(v.ln1.name, [BT, C]), dqkv, g(w.qkvw))
      this.#bias.C3.backward(pass, g(w.qkvb), dqkv)
      m.dln1.encode(pass, dqkv, p(w.qkvw), dln)
      // dres += LayerNorm's dinp: now d x, the layer's input
      this.#ln.backward(pass, dres, g(w.ln1w), g(w.ln1b), dln, layerInput(l), p(w.ln1w), a(v.ln1Mean.name, [BT]), a(v.ln1Rstd.name, [BT]))
    }
    if (this.#embedding != null) {
      const e = this.layout.embedding!
      this.#embedding.backward(pass, g(e.wte), g(e.wpe), view(this.#res, s.res.dres, [B, T, C]), view(sl.tokenIndex!, 0, [this.#embedding.indexLength], 'u32'))
    }
  }

  // ---- optimizer

  zeroGrad (): void {
    const enc = this.#device.createCommandEncoder({ label: `${this.label}.zero_grad` })
    enc.clearBuffer(this.#grads) // padding too: the grad norm sums the whole buffer
    this.#device.queue.submit([enc.finish()])
  }

  /** One AdamW update from the accumulated gradients (which are left as they are: zeroGrad next). */
  step (opts: StepOptions): void {
    const { gradScale, gradClip } = this.#setStep(opts)
    const enc = this.#device.createCommandEncoder({ label: `${this.label}.step` })
    const pass = enc.beginComputePass({ label: `${this.label}.step` })
    this.#optimizerList(gradClip > 0 ? gradClip / gradScale : 0).encode(pass)
    pass.end()
    this.#device.queue.submit([enc.finish()])
  }

  #setStep (opts: StepOptions): { gradScale: number, gradClip: number } {
    const gradScale = opts.gradScale ?? 1
    const gradClip = opts.gradClip ?? 0
    if (!(gradScale > 0) || !(gradClip >= 0)) throw new RangeError(`${this.label}: gradScale must be > 0 and gradClip ≥ 0`)
    this.#stepCount++
    this.#adamw.setStep(this.#stepCount, { lr: opts.lr, beta1: opts.beta1 ?? 0.9, beta2: opts.beta2 ?? 0.95, eps: opts.eps ?? 1e-8, weightDecay: opts.weightDecay ?? 0 }, gradScale)
    return { gradScale, gradClip }
  }

  /**
   * A whole training step of a one-stage model (stage 0 that is also the last) in ONE command
   * buffer and one submit: forward, loss, backward, gradient norm and clip factor (on the GPU),
   * AdamW, and zeroing the gradients. Gradients must be zero on entry (a fresh stage, or after
   * zeroGrad / a previous trainStep). Nothing waits for the GPU: the loss and the norm come back
   * with the returned promise, so a caller can encode step k+1 before awaiting step k's numbers.
   * `gradNorm` is the norm of the unscaled gradient, before clipping.
   */
  trainStep (tokens: Uint32Array, targets: Uint32Array, opts: StepOptions, slot = 0): Promise<{ loss: number, gradNorm: number }> {
    if (!this.isFirst || !this.isLast) throw new ModelInputError(`${this.label}: trainStep needs a stage with every layer (embedding and head); use forward/backward/step`)
    const sl = this.#slot(slot)
    const BT = this.B * this.T
    this.#writeInputs(sl, tokens, targets)
    const { gradScale, gradClip } = this.#setStep(opts)
    const enc = this.#device.createCommandEncoder({ label: `${this.label}.train_step` })
    enc.clearBuffer(this.#res, this.#dres().offset * 4, BT * this.config.d_model * 4) // LayerNorm backward accumulates into it
    const pass = enc.beginComputePass({ label: `${this.label}.train_step` })
    this.#forwardList(slot, true).encode(pass)
    this.#backwardList(slot).encode(pass)
    // Always measured (the norm is reported); clipping only when asked.
    this.#optimizerList(gradClip > 0 ? gradClip / gradScale : NORM_ONLY).encode(pass)
    pass.end()
    const staging = this.#trainReadback.take()
    const losses = this.#act(sl, this.acts.head!.losses.name)
    enc.copyBufferToBuffer(this.#normOut.buffer, 0, staging, 0, 12)
    enc.copyBufferToBuffer(losses.buffer, losses.offset * 4, staging, TRAIN_READBACK_LOSSES * 4, BT * 4)
    enc.clearBuffer(this.#grads)
    this.#device.queue.submit([enc.finish()])
    sl.state = 'none'
    sl.hasLosses = true
    sl.loss = null
    const mine = ++sl.trainSteps
    return this.#trainReadback.read(staging, TRAIN_READBACK_LOSSES + BT).then(data => {
      const loss = meanOf(data.subarray(TRAIN_READBACK_LOSSES))
      if (sl.trainSteps === mine && sl.hasLosses && sl.loss == null) sl.loss = loss
      return { loss, gradNorm: data[1] }
    })
  }

  /**
   * The dispatches of one training step (slot 0, forward with targets, backward, optimizer with
   * a clip), as trainStep replays them: for counting and profiling.
   */
  trainStepDispatches (gradClip = 1): { forward: DispatchList, backward: DispatchList, optimizer: DispatchList } {
    return { forward: this.#forwardList(0, this.isLast), backward: this.#backwardList(0), optimizer: this.#optimizerList(gradClip > 0 ? gradClip : NORM_ONLY) }
  }

  #forwardList (slot: number, withTargets: boolean): DispatchList {
    const sl = this.#slots[slot]
    return this.#list(`forward${slot}:${withTargets}`, pass => this.#encodeForward(pass, sl, withTargets))
  }

  #backwardList (slot: number): DispatchList {
    const sl = this.#slots[slot]
    return this.#list(`backward${slot}`, pass => this.#encodeBackward(pass, sl))
  }

  /** Grad norm (clip factor for maxNorm > 0; NORM_ONLY measures without clipping) and AdamW; 0: AdamW alone. */
  #optimizerList (maxNorm: number): DispatchList {
    const n = this.layout.totalElements
    return this.#list(`optimizer:${maxNorm}`, pass => {
      let clip: GpuTensor | undefined
      if (maxNorm !== 0) {
        // GradNorm sees the unscaled gradient: clipping gradScale·g to gradClip is clipping g to gradClip/gradScale.
        this.#gradNorm(maxNorm === NORM_ONLY ? 0 : maxNorm).encode(pass, this.#normOut, view(this.#grads, 0, [n]))
        if (maxNorm !== NORM_ONLY) clip = this.#normOut
      }
      this.#adamw.update(pass, view(this.#params, 0, [n]), view(this.#grads, 0, [n]), view(this.#m, 0, [n]), view(this.#v, 0, [n]), clip)
    })
  }

  #list (key: string, encode: (pass: GPUComputePassEncoder) => void): DispatchList {
    let list = this.#lists.get(key)
    if (list == null) {
      if (this.#lists.size > 32) this.#lists.clear() // a schedule changing gradScale every step
      list = DispatchList.record(encode)
      this.#lists.set(key, list)
    }
    return list
  }

  /**
   * Σ g² over this stage's (unscaled) gradient. A pipeline adds the stages' sums for the global
   * norm and passes its clip factor to every stage's step as part of gradScale.
   */
  async gradSumOfSquares (): Promise<number> {
    const n = this.layout.totalElements
    const enc = this.#device.createCommandEncoder({ label: `${this.label}.grad_norm` })
    const pass = enc.beginComputePass({ label: `${this.label}.grad_norm` })
    this.#list('grad_norm', p => this.#gradNorm(0).encode(p, this.#normOut, view(this.#grads, 0, [n]))).encode(pass)
    pass.end()
    const staging = this.#stagingFor('norm', 3)
    enc.copyBufferToBuffer(this.#normOut.buffer, 0, staging, 0, 12)
    this.#device.queue.submit([enc.finish()])
    return (await this.#read(staging, 3))[2]
  }

  #gradNorm (maxNorm: number): GradNorm {
    let plan = this.#gradNorms.get(maxNorm)
    if (plan == null) {
      if (this.#gradNorms.size > 8) { this.#gradNorms.clear(); this.#lists.clear() } // a schedule changing gradScale every step
      plan = new GradNorm(this.#device, this.layout.totalElements, { maxNorm })
      this.#gradNorms.set(maxNorm, plan)
    }
    return plan
  }

  // ---- state in and out (flat, laid out by params.ts)

  async exportParams (): Promise<Float32Array> {
    return await this.#readBuffer(this.#params, this.layout.totalElements)
  }

  importParams (params: Float32Array): void {
    this.#writeFlat(this.#params, params, 'params')
  }

  async exportGrads (): Promise<Float32Array> {
    return await this.#readBuffer(this.#grads, this.layout.totalElements)
  }

  /** Restores gradients saved by exportGrads (a spot-check run must not add to the real ones). */
  importGrads (grads: Float32Array): void {
    this.#writeFlat(this.#grads, grads, 'grads')
  }

  async exportAdamState (): Promise<AdamState> {
    const n = this.layout.totalElements
    return { step: this.#stepCount, m: await this.#readBuffer(this.#m, n), v: await this.#readBuffer(this.#v, n) }
  }

  importAdamState (state: AdamState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new ModelInputError(`${this.label}: Adam step must be an integer ≥ 0`)
    this.#writeFlat(this.#m, state.m, 'adam m')
    this.#writeFlat(this.#v, state.v, 'adam v')
    this.#stepCount = state.step
  }

  /** Frees every buffer the stage made. */
  destroy (): void {
    for (const b of [this.#params, this.#grads, this.#m, this.#v, this.#res, this.#mid, this.#normOut.buffer]) b.destroy()
    for (const sl of this.#slots) for (const b of [sl.acts, sl.mm, sl.tokenIndex]) b?.destroy()
    for (const b of this.#staging.values()) b.destroy()
    this.#trainReadback.destroy()
    this.#lists.clear()
    for (const plan of Object.values(this.#mm)) plan.destroy()
    this.#attention.destroy()
  }

  // ---- helpers

  #param (v: ParamView): GpuTensor {
    return view(this.#params, v.offset, v.shape)
  }

  /** A parameter as a GPU tensor (a view of the stage's flat buffer): decoding reads the weights this stage trains. */
  paramTensor (v: ParamView): GpuTensor {
    return this.#param(v)
  }

  #grad (v: ParamView): GpuTensor {
    return view(this.#grads, v.offset, v.shape)
  }

  /** An activation view by activations.ts name, optionally reshaped (same element count). */
  #act (sl: Slot, name: string, shape?: number[]): GpuTensor {
    const placed = this.#place.byName.get(name)
    if (placed == null) throw new RangeError(`${this.label}: no activation ${name}`)
    return view(sl[placed.buffer], placed.offset, shape ?? placed.view.shape, placed.view.dtype)
  }

  #slot (i: number): Slot {
    const sl = this.#slots[i]
    if (!Number.isInteger(i) || sl == null) throw new ModelInputError(`${this.label}: slot ${i} is not in [0, ${this.slots})`)
    return sl
  }

  #dres (): GpuTensor {
    return view(this.#res, this.#scratch.res.dres, [this.B * this.T, this.config.d_model])
  }

  #write (sl: Slot, name: string, data: Float32Array | Uint32Array): void {
    const t = this.#act(sl, name)
    this.#device.queue.writeBuffer(t.buffer, t.offset * 4, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength)
  }

  #writeFlat (buffer: GPUBuffer, data: Float32Array, what: string): void {
    if (data.length !== this.layout.totalElements) throw new ModelInputError(`${this.label}: ${what} have ${data.length} elements, the layout needs ${this.layout.totalElements}`)
    this.#device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength)
  }

  #stagingFor (key: string, elements: number): GPUBuffer {
    let b = this.#staging.get(key)
    if (b == null) {
      b = this.#device.createBuffer({ label: `${this.label}.readback.${key}`, size: Math.max(16, Math.ceil(elements / 4) * 16), usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ })
      this.#staging.set(key, b)
    }
    return b
  }

  async #read (staging: GPUBuffer, elements: number): Promise<Float32Array> {
    await staging.mapAsync(GPUMapMode.READ, 0, elements * 4)
    const out = new Float32Array(staging.getMappedRange(0, elements * 4).slice(0))
    staging.unmap()
    return out
  }

  async #readView (sl: Slot, name: string): Promise<Float32Array> {
    const t = this.#act(sl, name)
    const n = t.shape.reduce((x, y) => x * y, 1)
    const staging = this.#stagingFor(`${name}${this.#slots.indexOf(sl)}`, n)
    const enc = this.#device.createCommandEncoder({ label: `${this.label}.read.${name}` })
    enc.copyBufferToBuffer(t.buffer, t.offset * 4, staging, 0, n * 4)
    this.#device.queue.submit([enc.finish()])
    return await this.#read(staging, n)
  }

  async #readBuffer (buffer: GPUBuffer, elements: number): Promise<Float32Array> {
    // One-off staging: exports are rare and as big as the parameters.
    const staging = this.#device.createBuffer({ label: `${buffer.label}.export`, size: Math.max(16, elements * 4), usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ })
    const enc = this.#device.createCommandEncoder({ label: `${buffer.label}.export` })
    enc.copyBufferToBuffer(buffer, 0, staging, 0, elements * 4)
    this.#device.queue.submit([enc.finish()])
    await staging.mapAsync(GPUMapMode.READ)
    const out = new Float32Array(staging.getMappedRange().slice(0, elements * 4))
    staging.unmap()
    staging.destroy()
    return out
  }
}

/** trainStep's readback: [clip scale, norm, sum of squares, pad], then the B·T losses. */
const TRAIN_READBACK_LOSSES = 4
/** optimizer list key: measure the norm, clip nothing */
const NORM_ONLY = -1

function meanOf (xs: Float32Array): number {
  let sum = 0
  for (const x of xs) sum += x
  return sum / xs.length
}
