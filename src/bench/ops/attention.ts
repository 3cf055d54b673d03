// Causal attention ops at the reference config: B=4, T=128, HS=64, NH=4 (d=256) and NH=8 (d=512).
// FLOPs count the causal half only, the same number on both sides: forward 2·B·NH·T²·HS (Q·Kᵀ and
// P·V), backward 2.5× that (five products: S recomputed, dP, dV, dQ, dK).
//
// onnxruntime-web twin (forward only; ORT web has no training ops): the plain formulation
// softmax(scale · Q·Kᵀ + mask)·V with standard ONNX ops, heads folded into the batch, K given
// already transposed. The one-node ONNX builder has no attribute lists (Transpose perm) or
// operator domains (com.microsoft MultiHeadAttention), so the twin runs heads as batch entries:
// our kernel then runs with NH=1 and B·NH batch rows, whose (B·NH, T, HS) output has exactly the
// twin's layout, so the outputs are compared element by element. The work is the same per head.
import { randomArray } from '../../gpu/numerics.ts'
import { createTensor, type GpuTensor } from '../../gpu/tensor.ts'
import { Attention, attentionConfigName, tuneAttention, type AttentionInit, type AttentionTuneResult } from '../../gpu/kernels/attention.ts'
import type { BenchContext, KernelOp } from '../kernel-ops.ts'
import type { OnnxGraph } from '../onnx.ts'

const B = 4
const T = 128
const HS = 64

function ortTwin (BH: number): OnnxGraph {
  return {
    nodes: [
      { opType: 'MatMul', inputs: ['q', 'kt'], outputs: ['s'] },
      { opType: 'Mul', inputs: ['s', 'scale'], outputs: ['ss'] },
      { opType: 'Add', inputs: ['ss', 'mask'], outputs: ['sm'] },
      { opType: 'Softmax', inputs: ['sm'], outputs: ['p'] }, // opset 13+: last axis by default
      { opType: 'MatMul', inputs: ['p', 'v'], outputs: ['y'] }
    ],
    inputs: [
      { name: 'q', dims: [BH, T, HS] },
      { name: 'kt', dims: [BH, HS, T] },
      { name: 'v', dims: [BH, T, HS] },
      { name: 'scale', dims: [1] },
      { name: 'mask', dims: [T, T] }
    ],
    outputs: [{ name: 'y', dims: [BH, T, HS] }]
  }
}

/** The twin's inputs from our qkv (BH, T, 3·HS): q, kᵀ, v per head, the scale and the causal mask. */
function twinInputs (qkv: Float32Array, BH: number): Float32Array[] {
  const q = new Float32Array(BH * T * HS)
  const kt = new Float32Array(BH * HS * T)
  const v = new Float32Array(BH * T * HS)
  for (let b = 0; b < BH; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * 3 * HS
      for (let i = 0; i < HS; i++) {
        q[(b * T + t) * HS + i] = qkv[row + i]
        kt[(b * HS + i) * T + t] = qkv[row + HS + i]
        v[(b * T + t) * HS + i] = qkv[row + 2 * HS + i]
      }
    }
  }
  const mask = new Float32Array(T * T)
  for (let t = 0; t < T; t++) for (let t2 = t + 1; t2 < T; t2++) mask[t * T + t2] = -1e9
  return [q, kt, v, Float32Array.of(1 / Math.sqrt(HS)), mask]
}

// One tuning per bench run and shape, shared by the forward and backward ops.
const tunings = new WeakMap<BenchContext, Map<number, Promise<AttentionTuneResult>>>()

/** The fastest configs for this shape when the bench tunes, else the untuned defaults. */
async function configsFor (ctx: BenchContext, BH: number): Promise<{ init: AttentionInit, tuned?: AttentionTuneResult }> {
  if (!ctx.tune) return { init: {} }
  let byShape = tunings.get(ctx)
  if (byShape == null) { byShape = new Map(); tunings.set(ctx, byShape) }
  let pending = byShape.get(BH)
  if (pending == null) { pending = tuneAttention(ctx.tg, BH, T, HS, 1); byShape.set(BH, pending) }
  const tuned = await pending
  return { init: { forward: tuned.forward, backward: tuned.backward }, tuned }
}

export function attentionOps (): KernelOp[] {
  const ops: KernelOp[] = []
  for (const NH of [4, 8]) {
    const BH = B * NH
    const flops = 2 * BH * T * T * HS
    const shape = { B, NH, T, HS }
    ops.push({
      op: 'attention_fwd',
      shape,
      flops,
      ort: ortTwin(BH),
      ours: async (ctx) => {
        const { device } = ctx.tg
        const data = randomArray(BH * T * 3 * HS, 1)
        const qkv = createTensor(device, [BH, T, 3 * HS], 'bench.qkv', data)
        const out = createTensor(device, [BH, T, HS], 'bench.out')
        const lse = createTensor(device, [BH, 1, T], 'bench.lse')
        const twin = twinInputs(data, BH).map((x, i) => createTensor(device, [x.length], `bench.attention.ort${i}`, x))
        const { init, tuned } = await configsFor(ctx, BH)
        const plan = new Attention(device, BH, T, HS, 1, init)
        const all: GpuTensor[] = [qkv, out, lse, ...twin]
        return {
          encode: pass => plan.forward(pass, out, lse, qkv),
          inputs: twin.map(t => t.buffer),
          output: out.buffer,
          notes: { config: attentionConfigName(plan.forwardConfig), tuned: ctx.tune, tune_ms: tuned?.timings.forward, heads_folded_into_batch: true },
          destroy: () => { plan.destroy(); for (const t of all) t.buffer.destroy() }
        }
      }
    })
    ops.push({
      op: 'attention_bwd',
      shape,
      flops: 2.5 * flops,
      ours: async (ctx) => {
        const { device } = ctx.tg
        const qkv = createTensor(device, [BH, T, 3 * HS], 'bench.qkv', randomArray(BH * T * 3 * HS, 1))
        const out = createTensor(device, [BH, T, HS], 'bench.out')
        const lse = createTensor(device, [BH, 1, T], 'bench.lse')
        const dout = createTensor(device, [BH, T, HS], 'bench.dout', randomArray(BH * T * HS, 2))
        const dqkv = createTensor(device, [BH, T, 3 * HS], 'bench.dqkv')
        // real out and lse for the backward to read
        const fwd = new Attention(device, BH, T, HS, 1)
        const enc = device.createCommandEncoder({ label: 'bench.attention.fwd' })
        const pass = enc.beginComputePass({ label: 'bench.attention.fwd' })
        fwd.forward(pass, out, lse, qkv)
        pass.end()
        device.queue.submit([enc.finish()])
        fwd.destroy()
        const { init, tuned } = await configsFor(ctx, BH)
        const plan = new Attention(device, BH, T, HS, 1, init)
        const all: GpuTensor[] = [qkv, out, lse, dout, dqkv]
        return {
          encode: pass => plan.backward(pass, dqkv, dout, qkv, out, lse),
          inputs: [qkv.buffer, dout.buffer],
          output: dqkv.buffer,
          notes: { config: attentionConfigName(plan.backwardConfig), tuned: ctx.tune, tune_ms: tuned?.timings.backward, heads_folded_into_batch: true },
          destroy: () => { plan.destroy(); for (const t of all) t.buffer.destroy() }
        }
      }
    })
  }
  return ops
}
