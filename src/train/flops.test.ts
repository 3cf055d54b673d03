import { describe, expect, it } from 'vitest'
import { ThroughputMeter, stepFlops } from './flops.ts'
import { PRESETS, splitStages, stageFlops, fullRange } from '../model/config.ts'

describe('step FLOPs', () => {
  it('sum the stage FLOPs over the accumulation, the same for any split', () => {
    const c = PRESETS.small
    const one = stepFlops(c, 4, 64, 3)
    expect(one.tokens).toBe(3 * 4 * 64)
    expect(one.forward).toBe(3 * stageFlops(c, fullRange(c), 4, 64).forward)
    expect(one.total).toBe(3 * one.forward)
    expect(stepFlops(c, 4, 64, 3, splitStages(c, 3))).toEqual(one)
  })

  it('throughput averages over a window of recent steps', () => {
    const m = new ThroughputMeter(2)
    m.add({ tokens: 1000, flops: 1e9, ms: 10_000 }) // a compile-heavy first step, dropped below
    m.add({ tokens: 100, flops: 1e6, ms: 100 })
    m.add({ tokens: 300, flops: 3e6, ms: 100 })
    expect(m.tokensPerSecond).toBe(2000)
    expect(m.flopsPerSecond).toBe(2e7)
  })
})
