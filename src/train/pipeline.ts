// Stages connected by links that carry tensors in and tensors out: the swarm implements the
// link over libp2p (swarm/stage-flow.ts), the in-process pipeline here with copies, so nothing
// but Float32Arrays ever crosses between stages. Both run the same recipe (microbatch.ts).
import type { GPTConfig } from '../model/config.ts'
import { fullRange, splitStages } from '../model/config.ts'
import { GptStage, type GptStageInit } from '../model/stage.ts'
import { StageTrainer, type StageTrainerInit } from './trainer.ts'
import type { Microbatch } from './data.ts'
import { TrainError } from './errors.ts'
import { exportStage, importStage, mergeStages } from '../model/checkpoint.ts'
import { stageLayout, viewOf } from '../model/params.ts'
import { backwardMicrobatch, forwardMicrobatch, type StageOps, type StageTransport } from './microbatch.ts'

/** What one stage sends its neighbours (the recipe's transport). The receiver runs its part of the microbatch. */
export type StageLink = StageTransport

/** Derives a microbatch's tokens from its id alone (TokenLoader does). */
export interface MicrobatchSource {
  microbatch: (id: number) => Microbatch
}

/**
 * One stage's side of the protocol: receive, compute, send on, by the shared microbatch recipe
 * (microbatch.ts). Each microbatch holds one of the stage's activation slots from its forward
 * until its backward.
 */
export class PipelineStage implements StageOps {
  readonly trainer: StageTrainer
  readonly #data: MicrobatchSource
  next: StageLink | null = null
  prev: StageLink | null = null
  /** last stage: loss of each microbatch, by id, until taken */
  readonly losses = new Map<number, number>()
  readonly #slotOf = new Map<number, number>()
  readonly #free: number[]
  /** The links as the recipe sees them. */
  readonly #io: StageTransport = {
    sendActivations: async (mb, x) => {
      if (this.next == null) throw new TrainError(`${this.stage.label}: no link to the next stage`)
      await this.next.sendActivations(mb, x)
    },
    sendGradients: async (mb, dx) => {
      if (this.prev == null) throw new TrainError(`${this.stage.label}: no link to the stage before`)
      await this.prev.sendGradients(mb, dx)
    }
  }

  constructor (trainer: StageTrainer, data: MicrobatchSource) {
    this.trainer = trainer
    this.#data = data
    this.#free = Array.from({ length: trainer.stage.slots }, (_, i) => trainer.stage.slots - 1 - i)
  }

  get stage (): GptStage {
    return this.trainer.stage
  }

  get isFirst (): boolean { return this.stage.isFirst }
  get isLast (): boolean { return this.stage.isLast }

  /** Microbatches between their forward and their backward here. */
  get inFlight (): number {
    return this.#slotOf.size
  }

  /** Stage 0: embeds microbatch mb and sends it on; resolves when its backward is back here. */
  async start (mb: number): Promise<void> {
    if (!this.stage.isFirst) throw new TrainError('only stage 0 starts microbatches')
    await this.onInput(mb, this.#data.microbatch(mb).inputs)
  }

  async onActivations (mb: number, x: Float32Array): Promise<void> {
    await this.onInput(mb, x)
  }

  async onGradients (mb: number, dx: Float32Array): Promise<void> {
    await backwardMicrobatch(this, this.#io, mb, dx)
  }

  async onInput (mb: number, input: Uint32Array | Float32Array): Promise<void> {
    // Refused before the try: a duplicate must not free the slot its first copy holds.
    if (this.#slotOf.has(mb)) throw new TrainError(`${this.stage.label}: microbatch ${mb} is already in flight`)
    try {
      await forwardMicrobatch(this, this.#io, mb, input, this.stage.isLast ? this.#data.microbatch(mb).targets : undefined)
    } catch (err) {
      this.#release(mb) // a failed microbatch must not hold its slot (the sender re-routes or restarts it)
      throw err
    }
  }

  // ---- StageOps

  async forward (mb: number, input: Float32Array | Uint32Array, targets?: Uint32Array): Promise<{ output: Float32Array | null, loss: null }> {
    if (this.#slotOf.has(mb)) throw new TrainError(`${this.stage.label}: microbatch ${mb} is already in flight`)
    const slot = this.#free.pop()
    if (slot == null) throw new TrainError(`${this.stage.label}: microbatch ${mb} arrived with all ${this.stage.slots} slots in flight`)
    this.#slotOf.set(mb, slot)
    // The loss is read back with d(input), after the backward (one readback instead of two).
    return { output: await this.trainer.forward(input, targets, slot), loss: null }
  }

  async backward (mb: number, dOutput?: Float32Array): Promise<Float32Array | null> {
    const slot = this.#slotOf.get(mb)
    if (slot == null) throw new TrainError(`${this.stage.label}: gradients for microbatch ${mb}, which is not in flight`)
    const { dinput } = await this.trainer.backward(dOutput, slot)
    if (this.stage.isLast) this.losses.set(mb, await this.stage.loss(slot))
    this.#release(mb)
    return dinput
  }

  #release (mb: number): void {
    const slot = this.#slotOf.get(mb)
    if (slot == null) return
    this.#slotOf.delete(mb)
    this.#free.push(slot)
  }
}

/** An in-process link to `to`: tensors are copied, as a network would, so no memory is shared. */
export function localLink (to: PipelineStage): StageLink {
  return {
    sendActivations: async (mb, x) => { await to.onActivations(mb, x.slice()) },
    sendGradients: async (mb, dx) => { await to.onGradients(mb, dx.slice()) }
  }
}

export interface PipelineInit {
  B: number
  T: number
  /** stages, each a contiguous layer range (splitStages). @default 1 */
  stages?: number
  /** deterministic init seed. @default 0 */
  seed?: number
  /** per-stage flat params (checkpoint), instead of the seed */
  params?: Float32Array[]
  /** activation slots per stage (microbatches in flight). @default 1 */
  slots?: number
  /** kernel choices for every stage (e.g. tuned tiles and attention blocks). @default the kernels' defaults */
  kernels?: Pick<GptStageInit, 'matmulConfig' | 'attention'>
  /**
   * 'global': clip by the norm over all stages (the unsplit model's maths); 'stage': each stage
   * clips its own, as independent replicas must. @default 'global'
   */
  clip?: 'global' | 'stage'
  trainer: StageTrainerInit
}

export interface StepResult {
  /** 0-based optimizer step */
  step: number
  /** mean loss over the step's microbatches */
  loss: number
  lr: number
  /** global gradient norm before clipping ('global' clip only, else null) */
  gradNorm: number | null
}

/** S stages in one process, wired by localLink. trainStep() is llm.c's loop body. */
export class Pipeline {
  readonly nodes: PipelineStage[]
  readonly clip: 'global' | 'stage'
  readonly accumulation: number
  #nextMicrobatch = 0

  constructor (device: GPUDevice, config: GPTConfig, data: MicrobatchSource, init: PipelineInit) {
    const ranges = splitStages(config, init.stages ?? 1)
    this.clip = init.clip ?? 'global'
    this.accumulation = init.trainer.accumulation ?? 1
    const trainerInit = { ...init.trainer, autoStep: this.clip === 'stage' }
    this.nodes = ranges.map((range, s) => {
      const stage = new GptStage(device, config, range, { ...init.kernels, B: init.B, T: init.T, seed: init.seed, params: init.params?.[s], slots: init.slots })
      return new PipelineStage(new StageTrainer(stage, trainerInit), data)
    })
    for (let s = 0; s < this.nodes.length; s++) {
      if (s + 1 < this.nodes.length) this.nodes[s].next = localLink(this.nodes[s + 1])
      if (s > 0) this.nodes[s].prev = localLink(this.nodes[s - 1])
    }
  }

  get step (): number {
    return this.nodes[0].trainer.step
  }

  /** Microbatches (ids continue across steps) → accumulated gradients → one optimizer step. */
  async trainStep (): Promise<StepResult> {
    const step = this.step
    const lr = this.nodes[0].trainer.lr
    const loss = await this.accumulate()
    const gradNorm = await this.update()
    return { step, loss, lr, gradNorm }
  }

  /** Forward and backward of the step's microbatches; returns their mean loss. */
  async accumulate (): Promise<number> {
    const last = this.nodes[this.nodes.length - 1]
    let lossSum = 0
    for (let k = 0; k < this.accumulation; k++) {
      const mb = this.#nextMicrobatch++
      await this.nodes[0].start(mb)
      lossSum += last.losses.get(mb)!
      last.losses.delete(mb)
    }
    return lossSum / this.accumulation
  }

  /** The optimizer step on what accumulate() left ('global' clip); returns the gradient norm. */
  async update (): Promise<number | null> {
    if (this.clip !== 'global') return null // each stage stepped on its own
    // Norm of the averaged gradient over every stage's tensors, then the same factor everywhere.
    const sumsq = (await Promise.all(this.nodes.map(async n => await n.stage.gradSumOfSquares()))).reduce((a, b) => a + b, 0)
    const gradNorm = Math.sqrt(sumsq) / this.accumulation
    const maxNorm = this.nodes[0].trainer.gradClip
    const factor = maxNorm > 0 && gradNorm > maxNorm ? maxNorm / gradNorm : 1
    for (const n of this.nodes) n.trainer.applyStep(factor)
    return gradNorm
  }

  /** The whole model's weights as one safetensors file (Hugging Face names). */
  async checkpoint (): Promise<Uint8Array> {
    const params = await this.exportParams()
    return mergeStages(this.nodes.map((n, s) => exportStage(n.stage.layout, params[s])))
  }

  /**
   * d(mean loss)/d(weights) of the microbatches accumulated so far (between accumulate() and
   * update()), as one safetensors file with the weights' names.
   */
  async gradCheckpoint (): Promise<Uint8Array> {
    const files = await Promise.all(this.nodes.map(async n => {
      const g = await n.stage.exportGrads()
      const pending = Math.max(1, n.trainer.pending)
      for (let i = 0; i < g.length; i++) g[i] /= pending
      return exportStage(n.stage.layout, g)
    }))
    return mergeStages(files)
  }

  /** Every stage's flat params, in stage order. */
  async exportParams (): Promise<Float32Array[]> {
    return await Promise.all(this.nodes.map(async n => await n.stage.exportParams()))
  }

  destroy (): void {
    for (const n of this.nodes) n.stage.destroy()
  }
}

/** Per-stage flat params for an S-stage split of a full-model checkpoint (config metadata optional). */
export function paramsFromCheckpoint (bytes: Uint8Array, config: GPTConfig, S: number): Float32Array[] {
  const src = importStage(bytes, { config, range: fullRange(config) })
  return splitStages(config, S).map(r => {
    const layout = stageLayout(config, r)
    const params = new Float32Array(layout.totalElements)
    for (const v of layout.views) viewOf(params, v).set(viewOf(src.params, src.layout.byName.get(v.name)!))
    return params
  })
}
