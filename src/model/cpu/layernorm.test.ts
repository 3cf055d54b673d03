import { describe, expect, it } from 'vitest'
import { layernormBackward, layernormForward } from './layernorm.ts'
import { randn } from '../rng.ts'
import { dot, maxAbsDiff, numericGrad } from './check.ts'

describe('layernorm reference', () => {
  const N = 3; const C = 7
  const inp = randn(N * C, 10)
  const weight = randn(C, 11)
  const bias = randn(C, 12)
  const dout = randn(N * C, 13)

  it('normalises each row to mean 0, variance 1 with unit weight and zero bias', () => {
    const { out } = layernormForward(inp, new Float64Array(C).fill(1), new Float64Array(C), N, C)
    for (let n = 0; n < N; n++) {
      const row = out.subarray(n * C, n * C + C)
      const m = row.reduce((s, x) => s + x, 0) / C
      const v = row.reduce((s, x) => s + (x - m) ** 2, 0) / C
      expect(Math.abs(m)).toBeLessThan(1e-12)
      expect(Math.abs(v - 1)).toBeLessThan(1e-4) // eps shrinks it slightly
    }
  })

  it('backward equals finite differences', () => {
    const f = (): number => dot(layernormForward(inp, weight, bias, N, C).out, dout)
    const { mean, rstd } = layernormForward(inp, weight, bias, N, C)
    const g = layernormBackward(dout, inp, weight, mean, rstd, N, C)
    expect(maxAbsDiff(g.dinp, numericGrad(f, inp)).diff).toBeLessThan(1e-7)
    expect(maxAbsDiff(g.dweight, numericGrad(f, weight)).diff).toBeLessThan(1e-7)
    expect(maxAbsDiff(g.dbias, numericGrad(f, bias)).diff).toBeLessThan(1e-7)
  })
})
