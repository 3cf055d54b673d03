// The whole recipe on the float64 reference, as llm.c's main: batch → forward → zero grad → backward
// → clip → update. A tiny model must memorise one batch, split into stages or not.
import { describe, expect, it } from 'vitest'
import { stageBackward, stageForward } from './gpt.ts'
import { adamwStageStep, clipScale } from './adamw.ts'
import { globalNorm } from './gradnorm.ts'
import { initStageParams } from '../init.ts'
import { stageLayout } from '../params.ts'
import { splitStages, type GPTConfig } from '../config.ts'

const config: GPTConfig = { vocab: 11, d_model: 16, n_layer: 2, n_head: 2, n_ctx: 8 }
const B = 2; const T = 8
const text = Uint32Array.from({ length: B * T + 1 }, (_, i) => (i * 3) % 11) // a learnable cycle
const tokens = text.subarray(0, B * T)
const targets = text.subarray(1, B * T + 1)
const hyper = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }

function train (S: number, steps: number): number[] {
  const stages = splitStages(config, S).map(r => stageLayout(config, r))
  const params = stages.map(l => Float64Array.from(initStageParams(l, 1337)))
  const m = stages.map(l => new Float64Array(l.totalElements))
  const v = stages.map(l => new Float64Array(l.totalElements))
  const losses: number[] = []
  for (let step = 1; step <= steps; step++) {
    const fwds = []
    let x: Uint32Array | Float64Array = tokens
    for (let s = 0; s < S; s++) {
      const r = stageForward(stages[s], params[s], x, B, T, s === S - 1 ? targets : undefined)
      fwds.push(r)
      if (r.out != null) x = r.out
    }
    losses.push(fwds[S - 1].loss!)
    const grads: Float64Array[] = []
    let dout: Float64Array | undefined
    for (let s = S - 1; s >= 0; s--) {
      const r = stageBackward(stages[s], params[s], fwds[s], dout)
      grads[s] = r.grads
      dout = r.dinput ?? undefined
    }
    // Clipping uses the norm over all stages (padding is zero, so flat buffers can be summed).
    const scale = clipScale(globalNorm(grads), 1)
    for (let s = 0; s < S; s++) adamwStageStep(stages[s], params[s], grads[s], m[s], v[s], step, hyper, scale)
  }
  return losses
}

describe('training with the reference', () => {
  it('memorises one batch, and a 2-stage pipeline follows the same loss curve', () => {
    const one = train(1, 60)
    expect(one[0]).toBeCloseTo(Math.log(11), 1) // std-0.02 init: near-uniform predictions
    expect(one[59]).toBeLessThan(0.5 * one[0])
    const two = train(2, 60)
    for (let i = 0; i < one.length; i++) expect(Math.abs(two[i] - one[i])).toBeLessThan(1e-12)
  })
})
