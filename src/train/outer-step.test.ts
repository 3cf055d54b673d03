import { describe, expect, it } from 'vitest'
import { OuterOptimizer } from './outer-step.ts'

describe('OuterOptimizer (DiLoCo outer Nesterov step)', () => {
  it('with lr 1 and momentum 0 returns the mean itself: plain replica averaging', () => {
    const o = new OuterOptimizer()
    o.setAnchor(new Float32Array([1, 1]))
    const mean = new Float32Array([0.5, 2])
    expect(o.step(mean)).toBe(mean)
    expect(Array.from(o.anchor!)).toEqual([0.5, 2])
  })

  it('takes Nesterov steps on the pseudo-gradient anchor − mean', () => {
    const o = new OuterOptimizer({ lr: 0.5, momentum: 0.9 })
    o.setAnchor(new Float32Array([1]))
    // g = 1 − 0.8 = 0.2; v = 0.2; θ = 1 − 0.5·(0.2 + 0.9·0.2) = 0.81
    const a = o.step(new Float32Array([0.8]))
    expect(a[0]).toBeCloseTo(0.81, 6)
    // g = 0.81 − 0.71 = 0.1; v = 0.9·0.2 + 0.1 = 0.28; θ = 0.81 − 0.5·(0.1 + 0.9·0.28) = 0.634
    const b = o.step(new Float32Array([0.71]))
    expect(b[0]).toBeCloseTo(0.634, 6)
  })

  it('refuses settings that diverge', () => {
    expect(() => new OuterOptimizer({ momentum: 1 })).toThrow()
    expect(() => new OuterOptimizer({ lr: 0 })).toThrow()
  })
})
