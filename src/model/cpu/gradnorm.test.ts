import { describe, expect, it } from 'vitest'
import { globalNorm } from './gradnorm.ts'

describe('global norm reference', () => {
  it('is the L2 norm of all tensors concatenated', () => {
    expect(globalNorm([Float64Array.of(3), Float64Array.of(0, 4)])).toBe(5)
    expect(globalNorm([])).toBe(0)
  })
})
