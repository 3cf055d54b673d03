// The registry's entries must describe the same computation on both sides.
import { describe, expect, test } from 'vitest'
import { KERNEL_OPS } from './kernel-ops.ts'

describe('kernel op registry', () => {
  test('op names follow DESIGN.md and shapes are unique per op', () => {
    const seen = new Set<string>()
    for (const o of KERNEL_OPS) {
      expect(o.op).toMatch(/^[a-z]+_[a-z]+$/)
      const key = `${o.op} ${JSON.stringify(o.shape)}`
      expect(seen.has(key), key).toBe(false)
      seen.add(key)
    }
  })
  test('matmul twins: flops and ONNX dims match the layout', () => {
    const matmuls = KERNEL_OPS.filter(o => o.op.startsWith('matmul_'))
    expect(matmuls.length).toBe(18)
    for (const o of matmuls) {
      const { M, K, N } = o.shape
      expect(o.flops).toBe(2 * M * K * N)
      const [a, b] = o.ort!.inputs.map(v => v.dims)
      const layout = o.op.slice('matmul_'.length)
      expect(a).toEqual(layout === 'tn' ? [K, M] : [M, K])
      expect(b).toEqual(layout === 'nt' ? [N, K] : [K, N])
      expect(o.ort!.outputs[0].dims).toEqual([M, N])
    }
  })
})
