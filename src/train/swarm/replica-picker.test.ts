import { describe, expect, it } from 'vitest'
import { ReplicaPicker } from './replica-picker.ts'
import { learningRate } from './schedule.ts'

describe('ReplicaPicker', () => {
  it('tries unmeasured replicas first, then prefers the faster, then spreads load', () => {
    const p = new ReplicaPicker()
    expect(p.pick(['b', 'a'])).toBe('a')
    p.observe('a', 100)
    expect(p.pick(['a', 'b'])).toBe('b')
    p.observe('b', 300)
    expect(p.pick(['a', 'b'])).toBe('a') // 100·1 < 300·1
    expect(p.pick(['a', 'b'])).toBe('a') // 100·2 < 300
    expect(p.pick(['a', 'b'])).toBe('a') // 100·3 = 300 ties b's 300: broken by id
    expect(p.pick(['a', 'b'])).toBe('b') // 100·4 > 300
  })

  it('avoids penalized and excluded replicas, and skips those already tried', () => {
    const p = new ReplicaPicker()
    p.observe('a', 10); p.observe('b', 10)
    p.penalize('a')
    expect(p.pick(['a', 'b'])).toBe('b')
    p.exclude('b')
    expect(p.pick(['a', 'b'])).toBe('a')
    expect(p.pick(['a', 'b'], new Set(['a']))).toBeNull()
  })
})

describe('learningRate', () => {
  const t = { lr: 1, lr_schedule: 'cosine' as const, warmup_steps: 4, steps: 104 }
  it('warms up linearly, then decays by cosine to 10%', () => {
    expect(learningRate(t, 0)).toBeCloseTo(0.25)
    expect(learningRate(t, 3)).toBeCloseTo(1)
    expect(learningRate(t, 4)).toBeCloseTo(1)
    expect(learningRate(t, 54)).toBeCloseTo(0.55)
    expect(learningRate(t, 104)).toBeCloseTo(0.1)
    expect(learningRate({ ...t, lr_schedule: 'constant' }, 50)).toBe(1)
  })
})
