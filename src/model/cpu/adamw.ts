// Float64 reference AdamW with decoupled weight decay (Loshchilov & Hutter; llm.c `gpt2_update`).
import { viewOf, type StageLayout } from '../params.ts'

export interface AdamWHyper { lr: number, beta1: number, beta2: number, eps: number, weightDecay: number }

/**
 * One in-place update of param, m and v. step is 1-based (bias correction).
 * gradScale multiplies the gradient first (gradient clipping or averaging).
 * Pass weightDecay 0 for tensors that are not matrices (biases, LayerNorm).
 */
export function adamwStep (param: Float64Array, grad: Float64Array, m: Float64Array, v: Float64Array, step: number, h: AdamWHyper, gradScale = 1): void {
  const bc1 = 1 - Math.pow(h.beta1, step)
  const bc2 = 1 - Math.pow(h.beta2, step)
  for (let i = 0; i < param.length; i++) {
    const g = grad[i] * gradScale
    m[i] = h.beta1 * m[i] + (1 - h.beta1) * g
    v[i] = h.beta2 * v[i] + (1 - h.beta2) * g * g
    const mhat = m[i] / bc1
    const vhat = v[i] / bc2
    param[i] -= h.lr * (mhat / (Math.sqrt(vhat) + h.eps) + h.weightDecay * param[i])
  }
}

/**
 * AdamW over a whole stage's flat buffers (params, grads, m, v share the layout): weight decay on
 * matrices only (the spec table's `matrix`), as GPT-2 / llm.c. Padding elements are left alone.
 */
export function adamwStageStep (layout: StageLayout, param: Float64Array, grad: Float64Array, m: Float64Array, v: Float64Array, step: number, h: AdamWHyper, gradScale = 1): void {
  for (const view of layout.views) {
    const hv = view.matrix ? h : { ...h, weightDecay: 0 }
    adamwStep(viewOf(param, view), viewOf(grad, view), viewOf(m, view), viewOf(v, view), step, hv, gradScale)
  }
}

/** The gradScale that clips the global gradient norm to maxNorm (1 when already below). */
export function clipScale (norm: number, maxNorm: number): number {
  return norm > maxNorm ? maxNorm / norm : 1
}
