import { describe, expect, it } from 'vitest'
import { adamwStageStep, adamwStep, clipScale, type AdamWHyper } from './adamw.ts'
import { stageLayout } from '../params.ts'

describe('adamw reference', () => {
  const h: AdamWHyper = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }

  it('first step moves each parameter by about lr·sign(g) plus decay', () => {
    const p = Float64Array.of(1, -2)
    const g = Float64Array.of(0.5, -3)
    const m = new Float64Array(2); const v = new Float64Array(2)
    adamwStep(p, g, m, v, 1, h)
    // Bias-corrected m̂ = g, v̂ = g², so the step is lr·(g/|g| + wd·p).
    expect(p[0]).toBeCloseTo(1 - 0.1 * (1 + 0.01 * 1), 6)
    expect(p[1]).toBeCloseTo(-2 - 0.1 * (-1 + 0.01 * -2), 6)
    expect(m[0]).toBeCloseTo(0.05, 12)
    expect(v[1]).toBeCloseTo(0.001 * 9, 12)
  })

  it('matches a hand-unrolled second step with gradScale', () => {
    const p = Float64Array.of(0.3); const m = new Float64Array(1); const v = new Float64Array(1)
    const hw = { ...h, weightDecay: 0 }
    adamwStep(p, Float64Array.of(2), m, v, 1, hw, 0.5)
    adamwStep(p, Float64Array.of(-4), m, v, 2, hw, 0.5)
    let pe = 0.3; let me = 0; let ve = 0
    for (const [t, g] of [[1, 1], [2, -2]]) {
      me = 0.9 * me + 0.1 * g; ve = 0.999 * ve + 0.001 * g * g
      pe -= 0.1 * (me / (1 - 0.9 ** t)) / (Math.sqrt(ve / (1 - 0.999 ** t)) + 1e-8)
    }
    expect(p[0]).toBeCloseTo(pe, 12)
  })
})

describe('adamw over a stage', () => {
  it('decays matrices only and leaves padding alone', () => {
    const layout = stageLayout({ vocab: 5, d_model: 4, n_layer: 1, n_head: 1, n_ctx: 3 }, { first: 0, last: 1 })
    const n = layout.totalElements
    const p = new Float64Array(n).fill(1); const g = new Float64Array(n); const m = new Float64Array(n); const v = new Float64Array(n)
    adamwStageStep(layout, p, g, m, v, 1, { lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.5 })
    const lv = layout.layerView(0)
    expect(p[lv.qkvw.offset]).toBeCloseTo(1 - 0.1 * 0.5, 12) // zero grad: only decay moves it
    expect(p[lv.qkvb.offset]).toBe(1)
    expect(p[lv.ln1w.offset]).toBe(1)
    expect(p[lv.ln1w.offset + lv.ln1w.size]).toBe(1) // padding after ln_1.weight
    expect(clipScale(2, 1)).toBe(0.5)
    expect(clipScale(0.5, 1)).toBe(1)
  })
})
