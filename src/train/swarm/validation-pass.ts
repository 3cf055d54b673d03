// Held-out evaluation through the swarm (DESIGN.md "Evaluation"). After a step that evaluates
// (train/evaluate.ts: the first, every tenth of the run, the last), one stage-0 replica runs the
// fixed validation windows through its stage and sends them on, marked `eval`, through one replica
// per stage, forward only, in the spare activation slot; the last stage scores each batch against
// its targets and reports the loss to the tracker, which plots the mean. No gradient changes,
// nothing is credited, and a batch lost on the way is not retried (that step's point is missing).
import type { EvalLossBody } from '../../protocol/swarm.ts'
import type { Microbatch } from '../data.ts'
import { evaluatesAfter, VALIDATION_BATCHES } from '../evaluate.ts'
import type { StageCompute } from './stage-compute.ts'
import { createLogger } from '../../log.ts'

const log = createLogger('tabgrad:swarm')

export class EvalMarkError extends Error {
  override name = 'EvalMarkError'
}

export interface ValidationPassInit {
  isFirst: boolean
  isLast: boolean
  /** The campaign's optimizer steps (which steps evaluate). */
  totalSteps: number
  /** The fixed validation windows (stage 0 and the last stage of a campaign that holds some out; null otherwise). */
  windows: { batches: number, microbatch: (k: number) => Pick<Microbatch, 'inputs' | 'targets'> } | null
  compute: Pick<StageCompute, 'evaluate'>
  /** Sends a batch's activations to one replica of the next stage. */
  send: (batch: number, step: number, x: Float32Array) => Promise<void>
  report: (body: EvalLossBody) => Promise<void>
}

export class ValidationPass {
  readonly #i: ValidationPassInit
  /** The last step stage 0 evaluated. */
  #evaluated = 0

  constructor (init: ValidationPassInit) { this.#i = init }

  /** Stage 0: whether the weights after `step` steps are this replica's to evaluate (not done yet). */
  due (step: number): boolean {
    return this.#i.isFirst && this.#i.windows != null && step > this.#evaluated && evaluatesAfter(step, this.#i.totalSteps)
  }

  /**
   * Stage 0 evaluates the weights after `step` steps: the forwards run now (the caller holds the
   * next step until they are done, so every batch sees the same weights); the sends run after.
   */
  async run (step: number): Promise<{ sent: Promise<void> }> {
    const w = this.#i.windows
    if (!this.due(step) || w == null) return { sent: Promise.resolve() }
    this.#evaluated = step
    const outputs: Array<Promise<void>> = []
    for (let k = 0; k < Math.min(w.batches, VALIDATION_BATCHES); k++) {
      const { inputs, targets } = w.microbatch(k)
      const r = await this.#i.compute.evaluate(inputs, this.#i.isLast ? targets : undefined)
      outputs.push(this.#pass(k, step, r))
    }
    return { sent: Promise.all(outputs).then(() => {}) }
  }

  /** A validation batch from the previous stage, checked before any compute. */
  async onBatch (batch: number, step: unknown, input: Float32Array): Promise<void> {
    if (typeof step !== 'number' || !evaluatesAfter(step, this.#i.totalSteps)) throw new EvalMarkError(`validation batch for step ${String(step)}, which does not evaluate`)
    if (!Number.isSafeInteger(batch) || batch < 0 || batch >= VALIDATION_BATCHES) throw new EvalMarkError(`validation batch ${batch} is not one of ${VALIDATION_BATCHES}`)
    const targets = this.#i.isLast ? this.#i.windows?.microbatch(batch).targets : undefined
    if (this.#i.isLast && targets == null) return // this campaign holds nothing out: nothing to score
    await this.#pass(batch, step, await this.#i.compute.evaluate(input, targets))
  }

  async #pass (batch: number, step: number, r: { output: Float32Array | null, loss: number | null }): Promise<void> {
    try {
      if (this.#i.isLast) {
        if (r.loss != null && Number.isFinite(r.loss)) await this.#i.report({ step, batch, loss: r.loss })
      } else if (r.output != null) {
        await this.#i.send(batch, step, r.output)
      }
    } catch (err) {
      log('validation batch', batch, 'of step', step, 'went nowhere:', (err as Error).message)
    }
  }
}
