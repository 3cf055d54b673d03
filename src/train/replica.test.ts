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

describe('weighted replica averages', () => {
  it('weights each replica by the microbatches it learned from; all-zero weights fall back to the mean', () => {
    const a = Float32Array.from([4, 8])
    const b = Float32Array.from([0, 0])
    expect([...averageParams([a, b], [3, 1])]).toEqual([3, 6])
    expect([...averageParams([a, b], [0, 0])]).toEqual([2, 4])
    expect([...averageParams([a, b])]).toEqual([2, 4])
    expect(() => averageParams([a, b], [1])).toThrowError(expect.objectContaining({ name: 'TrainError' }))
  })

  it('equals the full-batch SGD step however the batch is split', () => {
    // w0 = 1; gradients of 4 microbatches; lr 0.1. Full batch: w0 − lr·mean(g).
    const g = [1, 2, 3, 6]
    const full = 1 - 0.1 * g.reduce((x, y) => x + y) / 4
    const r1 = 1 - 0.1 * (g[0] + g[1] + g[2]) / 3 // a replica that got three of them
    const r2 = 1 - 0.1 * g[3] // and one that got the fourth
    expect(averageParams([Float32Array.of(r1), Float32Array.of(r2)], [3, 1])[0]).toBeCloseTo(full, 6)
  })
})
