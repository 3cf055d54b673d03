// Global gradient L2 norm of a flat gradient buffer (n), deterministic (two passes, fixed
// order), and the clip factor, both computed on the GPU into a 3-element tensor:
//   out[0] = clip scale = maxNorm / norm if norm > maxNorm > 0, else 1   (bind it as AdamW's clip)
//   out[1] = norm, out[2] = sum of squares.
// Padding between views counts too, so it must be zero (zeroing the whole grad buffer does it).
// Across pipeline stages the norm is global: each stage reads out[2], the sums are added, and
// the caller passes its clip factor to AdamW as gradScale instead of binding out.
import reduceSrc from '../../../shaders/reduce.wgsl?raw'
import gradNormSrc from '../../../shaders/grad-norm.wgsl?raw'
import { computePipeline } from '../pipeline-cache.ts'
import { binding, createBuffer, expectShape, type GpuTensor } from '../tensor.ts'

const SRC = reduceSrc + gradNormSrc
const WG = 256

export interface GradNormInit {
  /** Clip threshold; 0 disables clipping (scale 1). @default 0 */
  maxNorm?: number
  /**
   * Workgroups of the first pass; fixes the summation order. 256 left an H100 two-thirds idle
   * (643 GB/s over 163M floats); 1024 reached 2.1 TB/s.
   * @default min(1024, ceil(n / (8 WG)))
   */
  blocks?: number
}

export class GradNorm {
  readonly n: number
  readonly #device: GPUDevice
  readonly #params: GPUBuffer
  readonly #partial: GPUBuffer
  readonly #blocks: number
  readonly #partialPipe: GPUComputePipeline
  readonly #finishPipe: GPUComputePipeline

  constructor (device: GPUDevice, n: number, init: GradNormInit = {}) {
    this.n = n
    this.#device = device
    this.#blocks = init.blocks ?? Math.max(1, Math.min(1024, Math.ceil(n / (8 * WG))))
    this.#params = device.createBuffer({ label: 'grad-norm.params', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST })
    const data = new ArrayBuffer(16)
    new Uint32Array(data, 0, 2).set([n, this.#blocks])
    new Float32Array(data, 8, 1)[0] = init.maxNorm ?? 0
    device.queue.writeBuffer(this.#params, 0, data)
    this.#partial = createBuffer(device, this.#blocks, 'grad-norm.partial')
    this.#partialPipe = computePipeline(device, 'grad-norm.partial_sumsq', SRC, { WG }, 'partial_sumsq')
    this.#finishPipe = computePipeline(device, 'grad-norm.finish', SRC, { WG }, 'finish')
  }

  /** out (3) = [clip scale, norm, sum of squares] ← grads (n). */
  encode (pass: GPUComputePassEncoder, out: GpuTensor, grads: GpuTensor): void {
    expectShape(out, [3], 'grad-norm out')
    expectShape(grads, [this.n], 'grad-norm grads')
    const params = { binding: 0, resource: { buffer: this.#params } }
    const partial = { buffer: this.#partial }
    pass.setPipeline(this.#partialPipe)
    pass.setBindGroup(0, this.#device.createBindGroup({
      label: 'grad-norm.partial_sumsq',
      layout: this.#partialPipe.getBindGroupLayout(0),
      entries: [params, { binding: 1, resource: binding(grads) }, { binding: 2, resource: partial }]
    }))
    pass.dispatchWorkgroups(this.#blocks)
    pass.setPipeline(this.#finishPipe)
    pass.setBindGroup(0, this.#device.createBindGroup({
      label: 'grad-norm.finish',
      layout: this.#finishPipe.getBindGroupLayout(0),
      entries: [params, { binding: 2, resource: partial }, { binding: 3, resource: binding(out) }]
    }))
    pass.dispatchWorkgroups(1)
  }
}
