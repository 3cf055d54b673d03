// Held-out evaluation: fixed validation windows through the same stages, forward only, with the
// current weights. No gradients are touched (the cross-entropy's d logits land in the activation
// slot, which the next training forward overwrites), so it can run between any two steps.
// The swarm runs the same recipe across tabs: stage 0 embeds window w, the last stage scores it.
import type { GptStage } from '../model/stage.ts'
import { TokenLoader, type Microbatch } from './data.ts'
import { DataError } from './errors.ts'

/** Validation passes per evaluation, each a microbatch of B fixed windows. */
export const VALIDATION_BATCHES = 4

/** Steps between evaluations: a tenth of the run, at most 10 (4 forwards per 10 steps). */
export function evalEvery (totalSteps: number): number {
  return Math.min(10, Math.max(1, Math.round(totalSteps / 10)))
}

/**
 * Whether the weights after `done` optimizer steps are evaluated: after the first, every
 * evalEvery steps, and the last. The local trainer and the swarm (tabs and tracker) share it.
 */
export function evaluatesAfter (done: number, totalSteps: number): boolean {
  return Number.isSafeInteger(done) && done >= 1 && done <= totalSteps && (done === 1 || done === totalSteps || done % evalEvery(totalSteps) === 0)
}

export interface ValidationSetInit {
  B: number
  T: number
  /** microbatches of B windows each, evaluated every time. @default VALIDATION_BATCHES */
  batches?: number
}

/**
 * The fixed validation windows: microbatch k, row b reads tokens from ((k·B + b)·T) of the
 * validation split, in order (no shuffle), so every evaluation scores exactly the same tokens.
 * When the split is shorter than batches·B windows, windows wrap around (TokenLoader's rule).
 */
export class ValidationSet {
  readonly batches: number
  readonly #loader: TokenLoader

  constructor (tokens: Uint32Array, init: ValidationSetInit) {
    this.batches = init.batches ?? VALIDATION_BATCHES
    if (!Number.isInteger(this.batches) || this.batches < 1) throw new DataError(`validation batches must be a positive integer, got ${this.batches}`)
    this.#loader = new TokenLoader(tokens, { B: init.B, T: init.T, shuffle: false })
  }

  microbatch (k: number): Microbatch {
    return this.#loader.microbatch(k)
  }

  /** Tokens scored per evaluation. */
  get tokens (): number {
    return this.batches * this.#loader.B * this.#loader.T
  }
}

/** Mean cross-entropy over the validation set, forward only through `stages` (in order, first to last). */
export async function evaluate (stages: readonly GptStage[], set: ValidationSet, slot = 0): Promise<number> {
  let sum = 0
  for (let k = 0; k < set.batches; k++) {
    const { inputs, targets } = set.microbatch(k)
    let x: Uint32Array | Float32Array = inputs
    for (let s = 0; s < stages.length; s++) {
      const last = s === stages.length - 1
      const out = await stages[s].forward(x, last ? targets : undefined, slot)
      if (!last) x = out!
    }
    sum += await stages[stages.length - 1].loss(slot)
  }
  return sum / set.batches
}
