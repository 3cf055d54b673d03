// The one place a replica's optimizer step advances. The tracker's step counter is the truth:
// a tab learns it from lease and completion replies, heartbeats, tensor headers and weight
// requests, and calls `advanceTo`; steps apply in order, one at a time. After each step the
// replica sync may start (`onStepped`); the *next* step waits for it, so replicas keep computing
// microbatches while they average and never drift more than one step from a sync.
import type { TrainingSection } from '../../campaign/manifest.ts'
import type { StepOptions } from '../../model/stage.ts'
import { learningRate } from '../schedule.ts'
import type { StageKernels } from './stage-compute.ts'
import { StoppedError } from './errors.ts'
import { createLogger } from '../../log.ts'

const log = createLogger('tabgrad:swarm')

export type StepClockTraining = Pick<TrainingSection, 'lr' | 'lr_schedule' | 'warmup_steps' | 'steps' | 'weight_decay' | 'grad_clip'>

export interface StepClockInit {
  /** Runs the optimizer step on the GPU ahead of queued forwards (StageCompute.exclusive). */
  exclusive: <T>(what: string, fn: (k: StageKernels) => Promise<T>) => Promise<T>
  training: StepClockTraining
  /** Steps already applied (weights fetched from a replica at that step). @default 0 */
  initialStep?: number
  /**
   * Called after step `step` applied (so `step` steps are now done) with the microbatches it
   * learned from. A returned promise (a replica sync) holds the next step until it settles.
   */
  onStepped?: (step: number, microbatches: number) => Promise<void> | void
}

export class StepClock {
  readonly #init: StepClockInit
  #applied: number
  #accumulated = 0
  #chain: Promise<void> = Promise.resolve()
  #barrier: Promise<void> = Promise.resolve()
  #target = 0

  constructor (init: StepClockInit) {
    this.#init = init
    this.#applied = init.initialStep ?? 0
    this.#target = this.#applied
  }

  /** Optimizer steps applied on this replica. */
  get applied (): number { return this.#applied }
  /** The highest step the tracker is known to be at. */
  get target (): number { return this.#target }
  /** Microbatches accumulated into the gradients since the last step. */
  get accumulated (): number { return this.#accumulated }

  /** Weights loaded from elsewhere are at `step` (before training starts). */
  reset (step: number): void {
    this.#applied = step
    this.#target = Math.max(this.#target, step)
  }

  /** A microbatch's gradients were added to this stage's accumulators. */
  accumulate (): void { this.#accumulated++ }

  /** Resolves once every step requested so far is applied. */
  async settled (): Promise<void> { await this.#chain }

  /** Applies steps up to `target` in order; concurrent calls queue behind each other. */
  advanceTo (target: number): Promise<void> {
    if (target <= this.#target) return this.#chain
    this.#target = target
    this.#chain = this.#chain.then(async () => {
      while (this.#applied < this.#target) {
        await this.#barrier
        const step = this.#applied
        const count = this.#accumulated
        this.#accumulated = 0
        if (count > 0) {
          const opts = this.#stepOptions(step, count)
          await this.#init.exclusive(`S${step}`, async k => { await k.step(opts); await k.zeroGrad() })
        }
        this.#applied = step + 1
        const sync = this.#init.onStepped?.(step + 1, count)
        this.#barrier = Promise.resolve(sync).catch(() => {})
      }
    })
    // Catch-ups are often fired and forgotten (a peer's step seen in passing); whoever awaits the
    // step still gets the failure. A stop while one is queued is no failure at all.
    this.#chain.catch(err => { if (!(err instanceof StoppedError)) log.error('applying step', this.#applied, 'failed:', (err as Error).message) })
    return this.#chain
  }

  #stepOptions (step: number, count: number): StepOptions {
    const t = this.#init.training
    const lr = learningRate(step, { lr: t.lr, schedule: t.lr_schedule, warmupSteps: Math.min(t.warmup_steps, t.steps), totalSteps: t.steps })
    // Mean over the microbatches this replica saw: the replica average then weights by count.
    return { lr, weightDecay: t.weight_decay, gradClip: t.grad_clip, gradScale: 1 / count }
  }
}
