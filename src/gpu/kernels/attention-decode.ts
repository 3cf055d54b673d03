// Attention for decoding with a KV cache (inference): each step takes one new token per sequence,
// appends its k and v to the cache and attends over every cached position, so a generated token
// costs one position of compute instead of re-running the prefix. Rows of a batch may have
// different lengths (requests of different prompts share one dispatch). Kernel:
// shaders/attention-decode.wgsl.
import decodeSrc from '../../../shaders/attention-decode.wgsl?raw'
import { LimitError, ShapeError } from '../errors.ts'
import { computePipeline } from '../pipeline-cache.ts'
import { binding, createBuffer, expectShape, type GpuTensor } from '../tensor.ts'

/** Threads of a workgroup: the most HS/4 lanes fit in 64, so P·V splits into whole groups. */
export function decodeWorkgroupSize (HS: number): number {
  const HS4 = HS / 4
  return HS4 * Math.max(1, Math.floor(64 / HS4))
}

/** Workgroup memory of the kernel for a head size and cache length, as laid out in the shader. */
export function decodeWorkgroupBytes (HS: number, maxT: number): number {
  const WG = decodeWorkgroupSize(HS)
  return HS * 4 + maxT * 4 + WG * 4 + WG * 16 // q, scores, reduction, partial outputs
}

/**
 * The keys and values of up to `maxT` positions for B sequences, and how many each holds. Bounded:
 * a full row refuses more tokens until it is reset (the caller evicts).
 */
export class KvCache {
  readonly B: number
  readonly NH: number
  readonly HS: number
  readonly maxT: number
  readonly k: GPUBuffer
  readonly v: GPUBuffer
  /** (B) u32: each row's position for the next decode */
  readonly pos: GPUBuffer
  readonly #lengths: number[]
  readonly #device: GPUDevice

  constructor (device: GPUDevice, B: number, C: number, NH: number, maxT: number) {
    for (const [name, v] of Object.entries({ B, C, NH, maxT })) {
      if (!Number.isInteger(v) || v <= 0) throw new ShapeError(`kv cache: ${name}=${v} must be a positive integer`)
    }
    if (C % NH !== 0 || (C / NH) % 4 !== 0) throw new ShapeError(`kv cache: C=${C} must split into NH=${NH} heads of a multiple of 4`)
    this.B = B; this.NH = NH; this.HS = C / NH; this.maxT = maxT
    this.#device = device
    this.k = createBuffer(device, B * C * maxT, 'kv-cache.k')
    this.v = createBuffer(device, B * C * maxT, 'kv-cache.v')
    this.pos = device.createBuffer({ label: 'kv-cache.pos', size: Math.max(16, 4 * B), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST })
    this.#lengths = new Array<number>(B).fill(0)
  }

  /** Positions cached in row b. */
  length (b: number): number { return this.#lengths[b] }

  /** Forgets row b (a finished or evicted request): its next token goes to position 0. */
  reset (b: number): void { this.#lengths[b] = 0 }

  /** Row b holds `length` positions written by someone else (a prefill, a copied cache). */
  seek (b: number, length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.maxT) throw new LimitError(`kv cache: length ${length} outside [0, ${this.maxT}]`)
    this.#lengths[b] = length
  }

  /** Bytes of GPU memory the cache holds. */
  get bytes (): number { return this.k.size + this.v.size }

  /** Claims the next position of every row for one decode; the kernel reads them at the next submit. */
  claim (): void {
    const full = this.#lengths.findIndex(n => n >= this.maxT)
    if (full >= 0) throw new LimitError(`kv cache row ${full} holds ${this.maxT} positions, its limit: reset it first`)
    this.#device.queue.writeBuffer(this.pos, 0, Uint32Array.from(this.#lengths))
    for (let b = 0; b < this.B; b++) this.#lengths[b]++
  }

  destroy (): void {
    this.k.destroy(); this.v.destroy(); this.pos.destroy()
  }
}

/** A decode plan for one shape (B, C, NH) and cache length. */
export class DecodeAttention {
  readonly B: number
  readonly C: number
  readonly NH: number
  readonly HS: number
  readonly maxT: number
  readonly #device: GPUDevice
  readonly #params: GPUBuffer
  readonly #pipeline: GPUComputePipeline

  constructor (device: GPUDevice, B: number, C: number, NH: number, maxT: number) {
    for (const [name, v] of Object.entries({ B, C, NH, maxT })) {
      if (!Number.isInteger(v) || v <= 0) throw new ShapeError(`decode attention: ${name}=${v} must be a positive integer`)
    }
    if (C % NH !== 0) throw new ShapeError(`decode attention: C=${C} is not a multiple of NH=${NH}`)
    const HS = C / NH
    if (HS % 4 !== 0) throw new ShapeError(`decode attention: head size ${HS} is not a multiple of 4`)
    if (HS > 256) throw new LimitError(`decode attention: head size ${HS} over 256`)
    const limits = device.limits
    if (B > limits.maxComputeWorkgroupsPerDimension || NH > limits.maxComputeWorkgroupsPerDimension) throw new LimitError(`decode attention: B=${B} or NH=${NH} exceed maxComputeWorkgroupsPerDimension`)
    const bytes = decodeWorkgroupBytes(HS, maxT)
    if (bytes > limits.maxComputeWorkgroupStorageSize) throw new LimitError(`decode attention: ${maxT} cached positions need ${bytes} bytes of workgroup memory, the adapter has ${limits.maxComputeWorkgroupStorageSize}`)
    this.B = B; this.C = C; this.NH = NH; this.HS = HS; this.maxT = maxT
    this.#device = device
    this.#params = device.createBuffer({ label: 'attention-decode.params', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST })
    const data = new ArrayBuffer(16)
    new Uint32Array(data, 0, 2).set([B, NH])
    new Float32Array(data, 8, 1)[0] = 1 / Math.sqrt(HS)
    device.queue.writeBuffer(this.#params, 0, data)
    this.#pipeline = computePipeline(device, `attention.decode_hs${HS}_t${maxT}`, decodeSrc, { HS, WG: decodeWorkgroupSize(HS), MAXT: maxT }, 'decode')
  }

  /**
   * out (B, 1, C) ← the new tokens' qkv (B, 1, 3C) against the cache, after appending their k, v.
   * Claims the cache's next positions: one decode per submit (the positions are a queue write).
   */
  decode (pass: GPUComputePassEncoder, out: GpuTensor, qkv: GpuTensor, cache: KvCache): void {
    const { B, C, NH } = this
    expectShape(out, [B, 1, C], 'attention.decode out')
    expectShape(qkv, [B, 1, 3 * C], 'attention.decode qkv')
    if (cache.B !== B || cache.NH !== NH || cache.HS !== this.HS || cache.maxT !== this.maxT) throw new ShapeError('attention.decode: the cache was made for another shape')
    cache.claim()
    this.encode(pass, out, qkv, cache)
  }

  /** The dispatch alone, at the positions the cache last claimed (a benchmark repeats one step). */
  encode (pass: GPUComputePassEncoder, out: GpuTensor, qkv: GpuTensor, cache: KvCache): void {
    pass.setPipeline(this.#pipeline)
    pass.setBindGroup(0, this.#device.createBindGroup({
      label: 'attention.decode',
      layout: this.#pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.#params } },
        { binding: 1, resource: binding(qkv) },
        { binding: 2, resource: { buffer: cache.k } },
        { binding: 3, resource: { buffer: cache.v } },
        { binding: 4, resource: { buffer: cache.pos } },
        { binding: 5, resource: binding(out) }
      ]
    }))
    pass.dispatchWorkgroups(this.NH, this.B)
  }

  destroy (): void { this.#params.destroy() }
}
