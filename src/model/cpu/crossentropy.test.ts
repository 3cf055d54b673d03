import { describe, expect, it } from 'vitest'
import { crossEntropyForwardBackward } from './crossentropy.ts'
import { randn } from '../rng.ts'
import { maxAbsDiff, numericGrad } from './check.ts'

describe('cross-entropy reference', () => {
  const BT = 4; const V = 6
  const logits = randn(BT * V, 40, 3)
  const targets = Uint32Array.of(0, 5, 2, 2)

  it('uniform logits give log V', () => {
    const { loss, losses } = crossEntropyForwardBackward(new Float64Array(BT * V), targets, BT, V)
    expect(loss).toBeCloseTo(Math.log(V), 12)
    expect(losses.length).toBe(BT)
  })

  it('is stable for huge logits', () => {
    const big = new Float64Array(V).fill(1000); big[1] = 1010
    const { loss } = crossEntropyForwardBackward(big, Uint32Array.of(1), 1, V)
    expect(Number.isFinite(loss)).toBe(true)
  })

  it('dlogits equals finite differences of the mean loss', () => {
    const f = (): number => crossEntropyForwardBackward(logits, targets, BT, V).loss
    const { dlogits } = crossEntropyForwardBackward(logits, targets, BT, V)
    expect(maxAbsDiff(dlogits, numericGrad(f, logits)).diff).toBeLessThan(1e-9)
  })
})
