import { describe, expect, it } from 'vitest'
import { matmul } from './matmul.ts'
import { randn } from '../rng.ts'
import { maxAbsDiff } from './check.ts'

function transpose (x: Float64Array, R: number, C: number): Float64Array {
  const out = new Float64Array(R * C)
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c * R + r] = x[r * C + c]
  return out
}

describe('matmul reference', () => {
  const M = 3; const K = 5; const N = 4
  const a = randn(M * K, 1)
  const b = randn(K * N, 2)
  const bias = randn(N, 3)

  it('nn matches a hand-computed product', () => {
    const out = matmul(Float64Array.of(1, 2, 3, 4), Float64Array.of(5, 6, 7, 8), 2, 2, 2, 'nn', Float64Array.of(10, 20))
    expect(Array.from(out)).toEqual([1 * 5 + 2 * 7 + 10, 1 * 6 + 2 * 8 + 20, 3 * 5 + 4 * 7 + 10, 3 * 6 + 4 * 8 + 20])
  })

  it('nt and tn equal nn on transposed operands', () => {
    const nn = matmul(a, b, M, K, N, 'nn', bias)
    const nt = matmul(a, transpose(b, K, N), M, K, N, 'nt', bias)
    const tn = matmul(transpose(a, M, K), b, M, K, N, 'tn', bias)
    expect(maxAbsDiff(nn, nt).diff).toBeLessThan(1e-14)
    expect(maxAbsDiff(nn, tn).diff).toBeLessThan(1e-14)
  })

  it('linear backward by nt/tn equals finite differences of Σ dout·(a·b)', () => {
    const dout = randn(M * N, 4)
    const loss = (): number => { const y = matmul(a, b, M, K, N, 'nn'); let s = 0; for (let i = 0; i < y.length; i++) s += y[i] * dout[i]; return s }
    const da = matmul(dout, b, M, N, K, 'nt') // (M,N)·(K,N)ᵀ
    const db = matmul(a, dout, K, M, N, 'tn') // (M,K)ᵀ·(M,N)
    // Bilinear: central differences are exact up to rounding.
    const h = 1e-3
    for (const [x, g] of [[a, da], [b, db]] as const) {
      for (let i = 0; i < x.length; i++) {
        const x0 = x[i]; x[i] = x0 + h; const fp = loss(); x[i] = x0 - h; const fm = loss(); x[i] = x0
        expect(Math.abs((fp - fm) / (2 * h) - g[i])).toBeLessThan(1e-9)
      }
    }
  })

  it('rejects operands that are too short', () => {
    expect(() => matmul(new Float64Array(2), b, M, K, N, 'nn')).toThrow(RangeError)
  })
})
