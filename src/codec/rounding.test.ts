import { describe, expect, it } from 'vitest'
import { pcgHash, roundingSeed, uniform24 } from './rounding.ts'

describe('stochastic rounding draws', () => {
  it('the PCG hash matches known u32 values (the WGSL twin computes the same)', () => {
    // Reference values from Python integers masked to 32 bits:
    // state = v*747796405u + 2891336453u; word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u; (word >> 22u) ^ word
    expect(pcgHash(0)).toBe(129708002)
    expect(pcgHash(1)).toBe(2831084092)
    expect(pcgHash(0xffffffff)).toBe(pcgHash(-1))
  })

  it('uniform draws lie in [0, 1) with mean ≈ ½, and seeds differ', () => {
    let sum = 0
    let outside = 0
    const n = 20_000
    for (let i = 0; i < n; i++) {
      const u = uniform24(7, i)
      if (!(u >= 0 && u < 1)) outside++
      sum += u
    }
    expect(outside).toBe(0)
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01)
    expect(uniform24(1, 5)).not.toBe(uniform24(2, 5))
  })

  it('seeds differ by microbatch, stage and direction, and repeat for the same tensor', () => {
    const seeds = new Set<number>()
    for (const mb of [0, 1, 2 ** 32, 2 ** 40 + 3]) for (const stage of [0, 1, 2]) for (const kind of ['activations', 'gradients'] as const) seeds.add(roundingSeed(1234, mb, stage, kind))
    expect(seeds.size).toBe(4 * 3 * 2)
    expect(roundingSeed(1234, 9, 1, 'gradients')).toBe(roundingSeed(1234, 9, 1, 'gradients'))
    expect(roundingSeed(1234, 9, 1, 'gradients')).not.toBe(roundingSeed(1235, 9, 1, 'gradients'))
  })
})
