// The q8 boundary codec on the GPU (shaders/q8.wgsl; float64 reference src/codec/q8.ts): encode
// a stage's (rows, C) output or d(input) into a u32 buffer laid out as the wire payload, so the
// worker reads back 4·rows + rows·C bytes instead of 4·rows·C; decode does the reverse.
import q8Src from '../../../shaders/q8.wgsl?raw'
import { computePipeline } from '../pipeline-cache.ts'
import { binding, checkShape, expectShape, numel, type GpuTensor } from '../tensor.ts'

const WG = 64

/** u32 words of an encoded (rows, cols) tensor: scales, then the values 4 per word. */
export function q8Words (rows: number, cols: number): number {
  return rows + Math.ceil(rows * cols / 4)
}

export type Q8Rounding = { rounding: 'nearest' } | { rounding: 'stochastic', seed: number }

export class Q8Kernel {
  readonly rows: number
  readonly cols: number
  readonly #device: GPUDevice
  /** Round-to-nearest parameters (fixed), and stochastic ones (the seed is written per encode). */
  readonly #nearest: GPUBuffer
  readonly #stochastic: GPUBuffer
  readonly #scales: GPUComputePipeline
  readonly #pack: GPUComputePipeline
  readonly #unpack: GPUComputePipeline
  readonly #rowGroups: number
  readonly #elemGroups: number

  /** A codec for tensors of `shape`: rows are the last dimension (one token's C channels). */
  constructor (device: GPUDevice, shape: readonly number[]) {
    checkShape(shape, 'q8')
    this.cols = shape[shape.length - 1]
    this.rows = numel(shape) / this.cols
    this.#device = device
    const max = device.limits.maxComputeWorkgroupsPerDimension
    this.#rowGroups = Math.min(this.rows, max)
    this.#elemGroups = Math.min(Math.ceil(numel(shape) / WG), max)
    const params = (label: string): GPUBuffer => device.createBuffer({ label, size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST })
    this.#nearest = params('q8.params.nearest')
    this.#stochastic = params('q8.params.stochastic')
    this.#write(this.#nearest, 0, 0)
    this.#scales = computePipeline(device, 'q8.scales', q8Src, { WG }, 'scales')
    this.#pack = computePipeline(device, 'q8.pack', q8Src, { WG }, 'pack')
    this.#unpack = computePipeline(device, 'q8.unpack', q8Src, { WG }, 'unpack')
  }

  get words (): number { return q8Words(this.rows, this.cols) }
  /** Bytes of the wire payload: the prefix of the encoded buffer to read back. */
  get payloadBytes (): number { return this.rows * (4 + this.cols) }

  #write (buffer: GPUBuffer, stochastic: number, seed: number): void {
    this.#device.queue.writeBuffer(buffer, 0, new Uint32Array([this.rows, this.cols, this.rows * this.cols, stochastic, seed >>> 0, 0, 0, 0]))
  }

  /**
   * The parameters of an encode. The stochastic seed is a queue write, so it holds for the whole
   * next submit: encode one stochastic tensor per kernel per submit.
   */
  #params (r: Q8Rounding): GPUBuffer {
    if (r.rounding === 'nearest') return this.#nearest
    this.#write(this.#stochastic, 1, r.seed)
    return this.#stochastic
  }

  /** enc ← q8(x). `enc` is a u32 tensor of `words` elements. */
  encode (pass: GPUComputePassEncoder, x: GpuTensor, enc: GpuTensor, rounding: Q8Rounding): void {
    this.#check(x, enc, 'q8.encode')
    const params = this.#params(rounding)
    this.#dispatch(pass, this.#scales, 'q8.scales', params, x, enc, this.#rowGroups)
    this.#dispatch(pass, this.#pack, 'q8.pack', params, x, enc, Math.min(Math.ceil(Math.ceil(this.rows * this.cols / 4) / WG), this.#device.limits.maxComputeWorkgroupsPerDimension))
  }

  /** x ← decode(enc), for a payload whose scales the host checked (finite, ≥ 0). */
  decode (pass: GPUComputePassEncoder, enc: GpuTensor, x: GpuTensor): void {
    this.#check(x, enc, 'q8.decode')
    this.#dispatch(pass, this.#unpack, 'q8.unpack', this.#nearest, x, enc, this.#elemGroups)
  }

  destroy (): void { this.#nearest.destroy(); this.#stochastic.destroy() }

  #check (x: GpuTensor, enc: GpuTensor, what: string): void {
    expectShape(x, [this.rows * this.cols], `${what} x`)
    expectShape(enc, [this.words], `${what} enc`, 'u32')
  }

  #dispatch (pass: GPUComputePassEncoder, pipeline: GPUComputePipeline, label: string, params: GPUBuffer, x: GpuTensor, enc: GpuTensor, groups: number): void {
    pass.setPipeline(pipeline)
    pass.setBindGroup(0, this.#device.createBindGroup({
      label,
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: params } }, { binding: 1, resource: binding(x) }, { binding: 2, resource: binding(enc) }]
    }))
    pass.dispatchWorkgroups(groups)
  }
}
