import { describe, expect, it } from 'vitest'
import { evalEvery, evaluatesAfter } from './evaluate.ts'

describe('which steps evaluate', () => {
  it('after the first step, every tenth of the run (at most 10 steps apart) and the last', () => {
    expect([5, 20, 100, 1000].map(evalEvery)).toEqual([1, 2, 10, 10])
    const at = (total: number): number[] => Array.from({ length: total + 2 }, (_, k) => k).filter(k => evaluatesAfter(k, total))
    expect(at(20)).toEqual([1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20])
    expect(at(25)).toEqual([1, 3, 6, 9, 12, 15, 18, 21, 24, 25])
    expect(at(3)).toEqual([1, 2, 3])
  })

  it('nothing before any step, past the end, or for a non-integer', () => {
    expect([0, -2, 21, 2.5, NaN].some(k => evaluatesAfter(k, 20))).toBe(false)
  })
})
