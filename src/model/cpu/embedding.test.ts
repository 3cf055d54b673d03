import { describe, expect, it } from 'vitest'
import { embeddingBackward, embeddingForward } from './embedding.ts'
import { randn } from '../rng.ts'
import { dot, maxAbsDiff, numericGrad } from './check.ts'

describe('embedding reference', () => {
  const B = 2; const T = 3; const C = 4; const V = 5; const maxT = 6
  const tokens = Uint32Array.of(0, 4, 4, 2, 0, 1) // repeats exercise accumulation
  const wte = randn(V * C, 30)
  const wpe = randn(maxT * C, 31)
  const dout = randn(B * T * C, 32)

  it('adds the token row and the position row', () => {
    const out = embeddingForward(tokens, wte, wpe, B, T, C)
    expect(out[(1 * T + 2) * C + 3]).toBe(wte[1 * C + 3] + wpe[2 * C + 3])
  })

  it('backward equals finite differences', () => {
    const f = (): number => dot(embeddingForward(tokens, wte, wpe, B, T, C), dout)
    const g = embeddingBackward(dout, tokens, B, T, C, V, maxT)
    expect(maxAbsDiff(g.dwte, numericGrad(f, wte)).diff).toBeLessThan(1e-9)
    expect(maxAbsDiff(g.dwpe, numericGrad(f, wpe)).diff).toBeLessThan(1e-9)
  })
})
