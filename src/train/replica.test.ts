import { describe, expect, it } from 'vitest'
import { averageParams, syncDue } from './replica.ts'

describe('replica sync', () => {
  it('averages in float64 in the order given, identically for every replica', () => {
    const a = Float32Array.of(1, 0.1, -3); const b = Float32Array.of(2, 0.2, 3); const c = Float32Array.of(4, 0.3, 1e-8)
    const m = averageParams([a, b, c])
    expect(Array.from(m)).toEqual([Math.fround(7 / 3), Math.fround((Math.fround(0.1) + Math.fround(0.2) + Math.fround(0.3)) / 3), Math.fround(Math.fround(1e-8) / 3)])
    expect(averageParams([a, b, c])).toEqual(m)
    expect(() => averageParams([a, Float32Array.of(1)])).toThrow(expect.objectContaining({ name: 'TrainError' }))
    expect(() => averageParams([])).toThrow(expect.objectContaining({ name: 'TrainError' }))
  })

  it('is due at the end of every sync_every steps', () => {
    expect([0, 1, 2, 3, 4, 5].map(s => syncDue(s, 3))).toEqual([false, false, true, false, false, true])
    expect(() => syncDue(0, 0)).toThrow(expect.objectContaining({ name: 'TrainError' }))
  })
})
