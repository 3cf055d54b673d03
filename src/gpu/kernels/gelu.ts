// GELU (tanh form) over a tensor of fixed shape, usually (B*T, 4C) in the MLP.
// backward WRITES dinp = gelu'(inp) · dout (the matmul before it accumulates nothing here);
// dinp may be the same view as dout, to save a buffer.
import geluKernels from '../../../shaders/gelu.wgsl?raw'
import geluMath from '../../../shaders/gelu-math.wgsl?raw'
import { computePipeline } from '../pipeline-cache.ts'

const geluSrc = geluMath + geluKernels
import { binding, expectShape, numel, checkShape, type GpuTensor } from '../tensor.ts'

const WG = 256

export interface GeluInit {
  /** Cap on workgroups; each thread loops over the rest. @default maxComputeWorkgroupsPerDimension */
  maxWorkgroups?: number
}

export class Gelu {
  readonly shape: readonly number[]
  readonly #device: GPUDevice
  readonly #params: GPUBuffer
  readonly #groups: number
  readonly #forward: GPUComputePipeline
  readonly #backward: GPUComputePipeline
  readonly #backwardInPlace: GPUComputePipeline

  constructor (device: GPUDevice, shape: readonly number[], init: GeluInit = {}) {
    checkShape(shape, 'gelu')
    this.shape = shape
    this.#device = device
    const n = numel(shape)
    this.#groups = Math.min(Math.ceil(n / WG), init.maxWorkgroups ?? device.limits.maxComputeWorkgroupsPerDimension) // grid-stride covers the rest
    this.#params = device.createBuffer({ label: 'gelu.params', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST })
    device.queue.writeBuffer(this.#params, 0, new Uint32Array([n, 0, 0, 0]))
    this.#forward = computePipeline(device, 'gelu.forward', geluSrc, { WG }, 'forward')
    this.#backward = computePipeline(device, 'gelu.backward', geluSrc, { WG }, 'backward')
    this.#backwardInPlace = computePipeline(device, 'gelu.backward_inplace', geluSrc, { WG }, 'backward_inplace')
  }

  /** out = gelu(inp). */
  forward (pass: GPUComputePassEncoder, out: GpuTensor, inp: GpuTensor): void {
    expectShape(out, this.shape, 'gelu.forward out')
    expectShape(inp, this.shape, 'gelu.forward inp')
    this.#dispatch(pass, this.#forward, 'gelu.forward', { 1: inp, 2: out })
  }

  /** dinp = gelu'(inp) · dout (written, not accumulated). */
  backward (pass: GPUComputePassEncoder, dinp: GpuTensor, inp: GpuTensor, dout: GpuTensor): void {
    expectShape(dinp, this.shape, 'gelu.backward dinp')
    expectShape(inp, this.shape, 'gelu.backward inp')
    expectShape(dout, this.shape, 'gelu.backward dout')
    if (dinp.buffer === dout.buffer && dinp.offset === dout.offset) {
      this.#dispatch(pass, this.#backwardInPlace, 'gelu.backward_inplace', { 1: inp, 4: dinp })
    } else {
      this.#dispatch(pass, this.#backward, 'gelu.backward', { 1: inp, 3: dout, 4: dinp })
    }
  }

  #dispatch (pass: GPUComputePassEncoder, pipeline: GPUComputePipeline, label: string, tensors: Record<number, GpuTensor>): void {
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.#params } }]
    for (const [k, t] of Object.entries(tensors)) entries.push({ binding: Number(k), resource: binding(t) })
    pass.setPipeline(pipeline)
    pass.setBindGroup(0, this.#device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries }))
    pass.dispatchWorkgroups(this.#groups)
  }
}
