// LayerNorm and GELU ops at the reference config: N = B·T = 512 rows of C = 256 and 512.
// These kernels are memory-bound; GFLOP/s use a fixed count per element so runs compare:
// LayerNorm forward 8 (mean, variance, normalise, scale, shift), backward 16; GELU (tanh form)
// forward 10, backward 16.
//
// onnxruntime-web twins: LayerNormalization (opset 17; its defaults, axis −1 and epsilon 1e-5,
// are ours, so it needs no attributes). GELU has none here: ONNX's Gelu takes the tanh form only
// through a string attribute, which our one-node ONNX writer does not emit, and the erf form
// would not compare element by element.
import { randomArray } from '../../gpu/numerics.ts'
import { createTensor, type GpuTensor } from '../../gpu/tensor.ts'
import { LayerNorm } from '../../gpu/kernels/layernorm.ts'
import { Gelu } from '../../gpu/kernels/gelu.ts'
import type { KernelOp } from '../kernel-ops.ts'

const N = 4 * 128

/** LayerNorm's input, weight and bias (seeded), and its output, mean and rstd, for N rows of C. */
function lnTensors (d: GPUDevice, C: number): Record<'x' | 'w' | 'b' | 'out' | 'mean' | 'rstd', GpuTensor> {
  return {
    x: createTensor(d, [N, C], 'bench.x', randomArray(N * C, 1)),
    w: createTensor(d, [C], 'bench.w', randomArray(C, 2)),
    b: createTensor(d, [C], 'bench.b', randomArray(C, 3)),
    out: createTensor(d, [N, C], 'bench.out'),
    mean: createTensor(d, [N], 'bench.mean'),
    rstd: createTensor(d, [N], 'bench.rstd')
  }
}

export function pointwiseOps (): KernelOp[] {
  const ops: KernelOp[] = []
  for (const C of [256, 512]) {
    ops.push({
      op: 'layernorm_fwd',
      shape: { N, C },
      flops: 8 * N * C,
      ort: {
        nodes: [{ opType: 'LayerNormalization', inputs: ['x', 'scale', 'bias'], outputs: ['y'] }],
        inputs: [{ name: 'x', dims: [N, C] }, { name: 'scale', dims: [C] }, { name: 'bias', dims: [C] }],
        outputs: [{ name: 'y', dims: [N, C] }],
        opset: 17
      },
      ours: async ({ tg }) => {
        const d = tg.device
        const { x, w, b, out, mean, rstd } = lnTensors(d, C)
        const ln = new LayerNorm(d, N, C)
        return {
          encode: pass => ln.forward(pass, out, mean, rstd, x, w, b),
          inputs: [x.buffer, w.buffer, b.buffer],
          output: out.buffer,
          destroy: () => { for (const t of [x, w, b, out, mean, rstd]) t.buffer.destroy() }
        }
      }
    })
    ops.push({
      op: 'layernorm_bwd',
      shape: { N, C },
      flops: 16 * N * C,
      ours: async ({ tg }) => {
        const d = tg.device
        const { x, w, b, out, mean, rstd } = lnTensors(d, C)
        const dout = createTensor(d, [N, C], 'bench.dout', randomArray(N * C, 4))
        const dx = createTensor(d, [N, C], 'bench.dx')
        const dw = createTensor(d, [C], 'bench.dw')
        const db = createTensor(d, [C], 'bench.db')
        const ln = new LayerNorm(d, N, C)
        // mean and rstd come from one forward; then only backward is timed.
        const enc = d.createCommandEncoder({ label: 'bench.layernorm.prep' })
        const p = enc.beginComputePass()
        ln.forward(p, out, mean, rstd, x, w, b)
        p.end()
        d.queue.submit([enc.finish()])
        return {
          encode: pass => ln.backward(pass, dx, dw, db, dout, x, w, mean, rstd),
          inputs: [dout.buffer, x.buffer],
          output: dx.buffer,
          destroy: () => { for (const t of [x, w, b, out, mean, rstd, dout, dx, dw, db]) t.buffer.destroy() }
        }
      }
    })
    for (const dir of ['fwd', 'bwd'] as const) {
      ops.push({
        op: `gelu_${dir}`,
        shape: { N, C: 4 * C },
        flops: (dir === 'fwd' ? 10 : 16) * N * 4 * C,
        ours: async ({ tg }) => {
          const d = tg.device
          const shape = [N, 4 * C]
          const x = createTensor(d, shape, 'bench.x', randomArray(N * 4 * C, 1))
          const dout = createTensor(d, shape, 'bench.dout', randomArray(N * 4 * C, 2))
          const out = createTensor(d, shape, 'bench.out')
          const g = new Gelu(d, shape)
          return {
            encode: pass => { if (dir === 'fwd') g.forward(pass, out, x); else g.backward(pass, out, x, dout) },
            inputs: [x.buffer],
            output: out.buffer,
            destroy: () => { for (const t of [x, dout, out]) t.buffer.destroy() }
          }
        }
      })
    }
  }
  return ops
}
