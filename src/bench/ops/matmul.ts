// Matmul ops at the reference config's linear layers: B=4, T=128 (M = B·T = 512), d = 256 and 512,
// N = 3d (c_attn), d (c_proj), 4d (c_fc); each layout as forward (nn) and backward (nt: dX, tn: dW).
import { randomArray } from '../../gpu/numerics.ts'
import { createTensor } from '../../gpu/tensor.ts'
import { Matmul, configName, operandShapes, type MatmulLayout } from '../../gpu/kernels/matmul.ts'
import type { KernelOp } from '../kernel-ops.ts'
import type { OnnxGraph, OnnxNode } from '../onnx.ts'

const B = 4
const T = 128

function ortTwin (layout: MatmulLayout, M: number, K: number, N: number): OnnxGraph {
  const { a, b } = operandShapes(layout, M, K, N)
  // MatMul for nn; Gemm reads transposed operands in place like our kernel does.
  const attributes: Record<string, number> = layout === 'nt' ? { transB: 1 } : { transA: 1 }
  const node: OnnxNode = layout === 'nn'
    ? { opType: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }
    : { opType: 'Gemm', inputs: ['a', 'b'], outputs: ['y'], attributes }
  return { nodes: [node], inputs: [{ name: 'a', dims: a }, { name: 'b', dims: b }], outputs: [{ name: 'y', dims: [M, N] }] }
}

export function matmulOps (): KernelOp[] {
  const ops: KernelOp[] = []
  for (const d of [256, 512]) {
    for (const layout of ['nn', 'nt', 'tn'] as const) {
      for (const N of [3 * d, d, 4 * d]) {
        const M = B * T
        const K = d
        ops.push({
          op: `matmul_${layout}`,
          shape: { M, K, N },
          flops: 2 * M * K * N,
          ort: ortTwin(layout, M, K, N),
          ours: async ({ tg, tuner, tune }) => {
            const { device } = tg
            const { a: aShape, b: bShape } = operandShapes(layout, M, K, N)
            const a = createTensor(device, aShape, 'bench.a', randomArray(M * K, 1))
            const b = createTensor(device, bShape, 'bench.b', randomArray(K * N, 2))
            const out = createTensor(device, [M, N], 'bench.out')
            const init = { M, K, N, layout, label: 'bench.matmul' }
            const plan = tune ? await tuner.plan(init) : new Matmul(device, init)
            return {
              encode: pass => plan.encode(pass, a, b, out),
              inputs: [a.buffer, b.buffer],
              output: out.buffer,
              notes: { config: configName(plan.config), aligned: plan.aligned, tuned: tune },
              destroy: () => { plan.destroy(); a.buffer.destroy(); b.buffer.destroy(); out.buffer.destroy() }
            }
          }
        })
      }
    }
  }
  return ops
}
