import { describe, expect, it } from 'vitest'
import { learningRate } from './schedule.ts'

describe('learning-rate schedule', () => {
  it('warms up linearly, then holds (constant) or decays to the floor (cosine)', () => {
    const base = { lr: 1e-3, warmupSteps: 4, totalSteps: 14 }
    expect([0, 1, 2, 3].map(s => learningRate(s, base))).toEqual([2.5e-4, 5e-4, 7.5e-4, 1e-3])
    expect(learningRate(13, base)).toBe(1e-3)
    const cos = { ...base, schedule: 'cosine' as const, minLrFraction: 0.1 }
    expect(learningRate(4, cos)).toBeCloseTo(1e-3, 12)
    expect(learningRate(13, cos)).toBeCloseTo(1e-4, 12)
    expect(learningRate(100, cos)).toBeCloseTo(1e-4, 12)
    for (let s = 5; s < 14; s++) expect(learningRate(s, cos)).toBeLessThan(learningRate(s - 1, cos))
  })

  it('refuses schedules that do not describe a run', () => {
    expect(() => learningRate(0, { lr: -1, totalSteps: 1 })).toThrow(expect.objectContaining({ name: 'TrainConfigError' }))
    expect(() => learningRate(0, { lr: 1, totalSteps: 2, warmupSteps: 3 })).toThrow(expect.objectContaining({ name: 'TrainConfigError' }))
  })
})
