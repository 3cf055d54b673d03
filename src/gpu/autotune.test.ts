import { describe, expect, test } from 'vitest'
import { adapterKey, memoryTuneStore, shapeClass } from './autotune.ts'

describe('autotune keys', () => {
  test('shape classes bucket by log2 and alignment', () => {
    expect(shapeClass({ M: 512, K: 256, N: 768, layout: 'nn' })).toBe('nn_m9_k8_n10_a64')
    // Same buckets, same class: 500 rounds up to 512 like 512 itself.
    expect(shapeClass({ M: 300, K: 200, N: 600, layout: 'nt' })).toBe('nt_m9_k8_n10_a4')
    expect(shapeClass({ M: 37, K: 53, N: 29, layout: 'tn' })).toBe('tn_m6_k6_n5_a1')
    expect(shapeClass({ M: 128, K: 64, N: 128, layout: 'nt', batch: 16 })).toBe('nt_m7_k6_n7_b4_a64')
  })
  test('adapter keys name vendor, architecture and device', () => {
    expect(adapterKey({ vendor: 'nvidia', architecture: 'hopper', device: '' })).toBe('nvidia/hopper/?')
  })
  test('memory store round-trips', async () => {
    const s = memoryTuneStore()
    expect(await s.get('k')).toBeUndefined()
    await s.set('k', '64x64x16_4x4')
    expect(await s.get('k')).toBe('64x64x16_4x4')
  })
})
