import { describe, expect, it } from 'vitest'
import { geluBackward, geluForward } from './gelu.ts'
import { randn } from '../rng.ts'
import { dot, maxAbsDiff, numericGrad } from './check.ts'

describe('gelu reference', () => {
  it('matches known values of the tanh approximation', () => {
    const out = geluForward(Float64Array.of(0, 1, -1, 3))
    // PyTorch gelu(approximate='tanh'): 0, 0.8411920, -0.1588080, 2.9963627
    expect(out[0]).toBe(0)
    expect(out[1]).toBeCloseTo(0.8411920, 6)
    expect(out[2]).toBeCloseTo(-0.1588080, 6)
    expect(out[3]).toBeCloseTo(2.9963627, 6)
  })

  it('backward equals finite differences', () => {
    const inp = randn(50, 20, 2)
    const dout = randn(50, 21)
    const f = (): number => dot(geluForward(inp), dout)
    expect(maxAbsDiff(geluBackward(inp, dout), numericGrad(f, inp)).diff).toBeLessThan(1e-8)
  })
})
