import { describe, expect, it } from 'vitest'
import { ReplicaPicker } from './replica-picker.ts'

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
