// A stage's training loop around one GptStage: gradients accumulate over `accumulation`
// microbatches, then one AdamW step at the schedule's learning rate, then zero grad (llm.c's
// recipe: forward → backward → update → zero). A SWARM replica runs one of these per stage.
import type { GptStage } from '../model/stage.ts'
import { learningRate, validateSchedule, type LrSchedule } from './schedule.ts'
import { TrainConfigError } from './errors.ts'

export interface StageTrainerInit extends LrSchedule {
  /** microbatches per optimizer step. @default 1 */
  accumulation?: number
  /** @default 0 */
  weightDecay?: number
  /** clip the step's gradient norm to this; 0 = off. @default 0 */
  gradClip?: number
  /** @default 0.9 */
  beta1?: number
  /** @default 0.95 */
  beta2?: number
  /** @default 1e-8 */
  eps?: number
  /**
   * Step as soon as `accumulation` microbatches are in. Off when a pipeline clips by the norm
   * over all stages and calls `applyStep` itself. @default true
   */
  autoStep?: boolean
}

export interface StepRecord {
  /** 0-based optimizer step that was applied */
  step: number
  lr: number
}

export class StageTrainer {
  readonly stage: GptStage
  readonly accumulation: number
  readonly #init: StageTrainerInit
  #pending = 0

  constructor (stage: GptStage, init: StageTrainerInit) {
    validateSchedule(init)
    const k = init.accumulation ?? 1
    if (!Number.isInteger(k) || k < 1) throw new TrainConfigError(`accumulation must be a positive integer, got ${k}`)
    if (!((init.gradClip ?? 0) >= 0)) throw new TrainConfigError(`gradClip must be ≥ 0, got ${String(init.gradClip)}`)
    this.stage = stage
    this.accumulation = k
    this.#init = init
  }

  /** Optimizer steps applied so far (restored with the Adam state). */
  get step (): number {
    return this.stage.stepCount
  }

  /** Microbatches whose gradients are accumulated but not yet applied. */
  get pending (): number {
    return this.#pending
  }

  get ready (): boolean {
    return this.#pending >= this.accumulation
  }

  /** Learning rate the next step will use. */
  get lr (): number {
    return learningRate(this.step, this.#init)
  }

  async forward (input: Uint32Array | Float32Array, targets?: Uint32Array, slot = 0): Promise<Float32Array | null> {
    return await this.stage.forward(input, targets, slot)
  }

  /** Backward of the microbatch just forwarded; steps when the accumulation is full (autoStep). */
  async backward (dOutput?: Float32Array, slot = 0): Promise<{ dinput: Float32Array | null, stepped: StepRecord | null }> {
    const dinput = await this.stage.backward(dOutput, slot)
    this.#pending++
    const stepped = (this.#init.autoStep ?? true) && this.ready ? this.applyStep() : null
    return { dinput, stepped }
  }

  /**
   * AdamW on the accumulated gradients averaged over the microbatches, then zero grad.
   * clipFactor, when given, replaces this stage's own clipping (a pipeline's global-norm clip).
   */
  applyStep (clipFactor?: number): StepRecord {
    const i = this.#init
    const lr = this.lr
    const step = this.step
    const microbatches = Math.max(1, this.#pending)
    this.stage.step({
      lr,
      beta1: i.beta1,
      beta2: i.beta2,
      eps: i.eps,
      weightDecay: i.weightDecay ?? 0,
      gradClip: clipFactor != null ? 0 : (i.gradClip ?? 0),
      gradScale: (clipFactor ?? 1) / microbatches
    })
    this.stage.zeroGrad()
    this.#pending = 0
    return { step, lr }
  }

  get gradClip (): number {
    return this.#init.gradClip ?? 0
  }
}
