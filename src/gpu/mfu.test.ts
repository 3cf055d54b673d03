import { describe, expect, test } from 'vitest'
import { formatMfu, modelFlopUtilization } from './mfu.ts'

describe('model FLOP utilization', () => {
  test('is achieved FLOP/s over the measured peak', () => {
    expect(modelFlopUtilization(6e9, 2, 1e10)).toBeCloseTo(0.3, 12)
    expect(formatMfu(0.3)).toBe('30%')
    expect(formatMfu(0.0456)).toBe('4.6%')
  })
  test('is unknown (null, shown as a dash) before work, time and a peak exist', () => {
    for (const [f, s, p] of [[0, 1, 1], [1, 0, 1], [1, 1, 0], [1, 1, null], [NaN, 1, 1]] as const) expect(modelFlopUtilization(f, s, p)).toBeNull()
    expect(formatMfu(null)).toBe('–')
  })
})
