// Decode attention with a KV cache at GPT-2 small's head shape (NH=12, HS=64): one new token per
// sequence against L cached positions, B = 1 and 8 sequences, L = 128, 512, 1024. FLOPs: q·kᵀ and
// p·v over L positions, 4·B·NH·L·HS.
//
// onnxruntime-web twin: softmax(scale · q·kᵀ)·v with standard ONNX ops on the same cached keys and
// values, heads folded into the batch (our kernel then runs with NH=1 and B·NH rows; the outputs
// have the same layout and are compared element by element). The twin does not append the new
// token's k and v to a cache; ours does, a negligible HS-element write per head.
import { randomArray } from '../../gpu/numerics.ts'
import { createTensor, type GpuTensor } from '../../gpu/tensor.ts'
import { DecodeAttention, KvCache } from '../../gpu/kernels/attention-decode.ts'
import type { KernelOp } from '../kernel-ops.ts'
import type { OnnxGraph } from '../onnx.ts'

const NH = 12
const HS = 64

function ortTwin (BH: number, L: number): OnnxGraph {
  return {
    nodes: [
      { opType: 'MatMul', inputs: ['q', 'kt'], outputs: ['s'] },
      { opType: 'Mul', inputs: ['s', 'scale'], outputs: ['ss'] },
      { opType: 'Softmax', inputs: ['ss'], outputs: ['p'] },
      { opType: 'MatMul', inputs: ['p', 'v'], outputs: ['y'] }
    ],
    inputs: [
      { name: 'q', dims: [BH, 1, HS] },
      { name: 'kt', dims: [BH, HS, L] },
      { name: 'v', dims: [BH, L, HS] },
      { name: 'scale', dims: [1] }
    ],
    outputs: [{ name: 'y', dims: [BH, 1, HS] }]
  }
}

export function attentionDecodeOps (): KernelOp[] {
  const ops: KernelOp[] = []
  for (const B of [1, 8]) {
    for (const L of [128, 512, 1024]) {
      const BH = B * NH
      ops.push({
        op: 'attention_decode',
        shape: { B, NH, L, HS },
        flops: 4 * BH * L * HS,
        ort: ortTwin(BH, L),
        ours: async (ctx) => {
          const { device } = ctx.tg
          const q = randomArray(BH * HS, 1)
          const k = randomArray(BH * L * HS, 2)
          const v = randomArray(BH * L * HS, 3)
          // The cache holds positions 0..L-2; the new token brings q and position L-1's k and v.
          const cache = new KvCache(device, BH, HS, 1, L)
          device.queue.writeBuffer(cache.k, 0, k as Float32Array<ArrayBuffer>)
          device.queue.writeBuffer(cache.v, 0, v as Float32Array<ArrayBuffer>)
          const step = new Float32Array(BH * 3 * HS)
          for (let r = 0; r < BH; r++) {
            step.set(q.subarray(r * HS, (r + 1) * HS), r * 3 * HS)
            step.set(k.subarray((r * L + L - 1) * HS, (r * L + L) * HS), r * 3 * HS + HS)
            step.set(v.subarray((r * L + L - 1) * HS, (r * L + L) * HS), r * 3 * HS + 2 * HS)
            cache.seek(r, L - 1)
          }
          // Positions L-1 for every row, written once: each timed iteration is the same decode step.
          cache.claim()
          const kt = new Float32Array(BH * HS * L)
          for (let r = 0; r < BH; r++) for (let t = 0; t < L; t++) for (let i = 0; i < HS; i++) kt[(r * HS + i) * L + t] = k[(r * L + t) * HS + i]
          const qkv = createTensor(device, [BH, 1, 3 * HS], 'bench.decode.qkv', step)
          const out = createTensor(device, [BH, 1, HS], 'bench.decode.out')
          const twin = [q, kt, v, Float32Array.of(1 / Math.sqrt(HS))].map((x, i) => createTensor(device, [x.length], `bench.decode.ort${i}`, x))
          const plan = new DecodeAttention(device, BH, HS, 1, L)
          const all: GpuTensor[] = [qkv, out, ...twin]
          return {
            encode: pass => { plan.encode(pass, out, qkv, cache) },
            inputs: twin.map(t => t.buffer),
            output: out.buffer,
            notes: { heads_folded_into_batch: true, cached_positions: L },
            destroy: () => { plan.destroy(); cache.destroy(); for (const t of all) t.buffer.destroy() }
          }
        }
      })
    }
  }
  return ops
}
