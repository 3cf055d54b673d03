// The DiLoCo outer step (Douillard et al. 2023, "DiLoCo: Distributed Low-Communication Training
// of Language Models"): replicas start a sync period from the same anchor weights θ₀, take H
// inner AdamW steps on their own microbatches, and then treat Δ = θ₀ − mean(θᵢ) as a gradient
// for an outer Nesterov-momentum SGD step on θ₀. With lr 1 and momentum 0 this is exactly the
// (weighted) replica average, bit for bit; every replica that averaged the same buffers in the
// same order computes the same update, so replicas stay identical after a sync.
import { TrainError } from './errors.ts'

export interface OuterStepInit {
  /** Outer learning rate. DiLoCo uses 0.7. @default 1 */
  lr?: number
  /** Nesterov momentum. DiLoCo uses 0.9. @default 0 */
  momentum?: number
}

export class OuterOptimizer {
  readonly lr: number
  readonly momentum: number
  #anchor: Float32Array | null = null
  #velocity: Float32Array | null = null

  constructor (init: OuterStepInit = {}) {
    this.lr = init.lr ?? 1
    this.momentum = init.momentum ?? 0
    if (!(this.lr > 0) || !(this.momentum >= 0 && this.momentum < 1)) throw new TrainError(`outer step needs lr > 0 and 0 ≤ momentum < 1, got ${this.lr}, ${this.momentum}`)
  }

  /** The weights this sync period started from (a copy is kept). */
  setAnchor (params: Float32Array): void { this.#anchor = params.slice() }
  get anchor (): Float32Array | null { return this.#anchor }

  /** The new weights from the replicas' (weighted) mean; they become the next anchor. */
  step (mean: Float32Array): Float32Array {
    const a = this.#anchor
    if (a == null || (this.lr === 1 && this.momentum === 0)) {
      this.#anchor = mean.slice()
      return mean
    }
    if (a.length !== mean.length) throw new TrainError(`outer step: anchor has ${a.length} elements, mean ${mean.length}`)
    const mu = this.momentum
    const v = this.#velocity ??= new Float32Array(a.length)
    const out = new Float32Array(a.length)
    for (let i = 0; i < a.length; i++) {
      const g = a[i] - mean[i] // pseudo-gradient (the average of θ₀ − θᵢ)
      v[i] = mu * v[i] + g
      out[i] = a[i] - this.lr * (g + mu * v[i]) // Nesterov: look ahead along the velocity
    }
    this.#anchor = out.slice()
    return out
  }
}
