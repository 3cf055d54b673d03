// Residual connection over a tensor of fixed shape, usually (B*T, C): out = a + b, and its
// gradient, which ACCUMULATES (da += dout, db += dout) like every other parameter/activation
// gradient here. accumulate(dst, src) is dst += src, for summing gradient contributions.
import residualSrc from '../../../shaders/residual.wgsl?raw'
import { computePipeline } from '../pipeline-cache.ts'
import { binding, checkShape, expectShape, numel, type GpuTensor } from '../tensor.ts'

const WG = 256

export interface ResidualInit {
  /** Cap on workgroups; each thread loops over the rest. @default maxComputeWorkgroupsPerDimension */
  maxWorkgroups?: number
}

export class Residual {
  readonly shape: readonly number[]
  readonly #device: GPUDevice
  readonly #params: GPUBuffer
  readonly #groups: number
  readonly #forward: GPUComputePipeline
  readonly #backward: GPUComputePipeline
  readonly #accumulate: GPUComputePipeline

  constructor (device: GPUDevice, shape: readonly number[], init: ResidualInit = {}) {
    checkShape(shape, 'residual')
    this.shape = shape
    this.#device = device
    const n = numel(shape)
    this.#groups = Math.min(Math.ceil(n / WG), init.maxWorkgroups ?? device.limits.maxComputeWorkgroupsPerDimension) // grid-stride covers the rest
    this.#params = device.createBuffer({ label: 'residual.params', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST })
    device.queue.writeBuffer(this.#params, 0, new Uint32Array([n, 0, 0, 0]))
    this.#forward = computePipeline(device, 'residual.forward', residualSrc, { WG }, 'forward')
    this.#backward = computePipeline(device, 'residual.backward', residualSrc, { WG }, 'backward')
    this.#accumulate = computePipeline(device, 'residual.accumulate', residualSrc, { WG }, 'accumulate')
  }

  /** out = a + b. */
  forward (pass: GPUComputePassEncoder, out: GpuTensor, a: GpuTensor, b: GpuTensor): void {
    this.#check({ out, a, b }, 'residual.forward')
    this.#dispatch(pass, this.#forward, 'residual.forward', { 1: a, 2: b, 3: out })
  }

  /** da += dout, db += dout. */
  backward (pass: GPUComputePassEncoder, da: GpuTensor, db: GpuTensor, dout: GpuTensor): void {
    this.#check({ da, db, dout }, 'residual.backward')
    this.#dispatch(pass, this.#backward, 'residual.backward', { 1: da, 2: db, 3: dout })
  }

  /** dst += src. */
  accumulate (pass: GPUComputePassEncoder, dst: GpuTensor, src: GpuTensor): void {
    this.#check({ dst, src }, 'residual.accumulate')
    this.#dispatch(pass, this.#accumulate, 'residual.accumulate', { 1: dst, 2: src })
  }

  #check (tensors: Record<string, GpuTensor>, what: string): void {
    for (const [name, t] of Object.entries(tensors)) expectShape(t, this.shape, `${what} ${name}`)
  }

  #dispatch (pass: GPUComputePassEncoder, pipeline: GPUComputePipeline, label: string, tensors: Record<number, GpuTensor>): void {
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.#params } }]
    for (const [k, t] of Object.entries(tensors)) entries.push({ binding: Number(k), resource: binding(t) })
    pass.setPipeline(pipeline)
    pass.setBindGroup(0, this.#device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries }))
    pass.dispatchWorkgroups(this.#groups)
  }
}
