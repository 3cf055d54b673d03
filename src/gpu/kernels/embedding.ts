// Token + position embedding for stage 0: out (B, T, C) = wte[tokens] + wpe[t], tokens u32 (B, T).
// Backward ACCUMULATES into dwte (V, C) and dwpe (maxT, C) deterministically, without atomics.
// For dwte the caller uploads an inverse index of the microbatch's tokens, built on the CPU with
// buildTokenIndex (stage 0 knows its tokens): one workgroup per distinct token sums its
// positions in a fixed order, so no two workgroups write the same row.
import embeddingSrc from '../../../shaders/embedding.wgsl?raw'
import { LimitError, ShapeError } from '../errors.ts'
import { computePipeline } from '../pipeline-cache.ts'
import { binding, expectShape, type GpuTensor } from '../tensor.ts'

const WG = 256
const ROW_WG = 64

/** u32 elements of the index for a (B, T) microbatch over a V-token vocabulary. */
export function tokenIndexLength (B: number, T: number, V: number): number {
  const maxU = Math.min(V, B * T)
  return 2 + 2 * maxU + B * T
}

/**
 * CSR inverse index of tokens (B, T), laid out as the shader reads it:
 * [U, distinct tokens (ascending, capacity maxU), offsets (U + 1, capacity maxU + 1),
 *  positions b*T+t grouped by token, ascending within a token]. maxU = min(V, B*T).
 * A counting sort: O(B*T + V). Throws RangeError for a token >= V.
 */
export function buildTokenIndex (tokens: Uint32Array, B: number, T: number, V: number): Uint32Array {
  const BT = B * T
  if (tokens.length !== BT) throw new ShapeError(`buildTokenIndex: ${tokens.length} tokens, expected B*T = ${BT}`)
  const maxU = Math.min(V, BT)
  const out = new Uint32Array(tokenIndexLength(B, T, V))
  const counts = new Uint32Array(V)
  for (let i = 0; i < BT; i++) {
    const tok = tokens[i]
    if (tok >= V) throw new RangeError(`buildTokenIndex: token ${tok} at ${i} is not below V = ${V}`)
    counts[tok]++
  }
  const uniq = 1
  const offsets = 1 + maxU
  const positions = 2 + 2 * maxU
  const start = new Uint32Array(V) // next free slot per token
  let U = 0
  let offset = 0
  for (let v = 0; v < V; v++) {
    if (counts[v] === 0) continue
    out[uniq + U] = v
    out[offsets + U] = offset
    start[v] = offset
    offset += counts[v]
    U++
  }
  out[0] = U
  out[offsets + U] = offset
  for (let i = 0; i < BT; i++) out[positions + start[tokens[i]]++] = i
  return out
}

export class Embedding {
  readonly B: number
  readonly T: number
  readonly C: number
  readonly V: number
  readonly maxT: number
  /** Length of the u32 index tensor backward takes. */
  readonly indexLength: number
  readonly #device: GPUDevice
  readonly #params: GPUBuffer
  readonly #maxU: number
  readonly #forward: GPUComputePipeline
  readonly #forwardAt: GPUComputePipeline
  readonly #wpe: GPUComputePipeline
  readonly #wte: GPUComputePipeline

  constructor (device: GPUDevice, B: number, T: number, C: number, V: number, maxT: number) {
    if (T > maxT) throw new ShapeError(`embedding: T = ${T} exceeds maxT = ${maxT}`)
    this.B = B; this.T = T; this.C = C; this.V = V; this.maxT = maxT
    this.#device = device
    this.#maxU = Math.min(V, B * T)
    if (this.#maxU > device.limits.maxComputeWorkgroupsPerDimension) throw new LimitError(`embedding: ${this.#maxU} distinct tokens exceed maxComputeWorkgroupsPerDimension`)
    this.indexLength = tokenIndexLength(B, T, V)
    this.#params = device.createBuffer({ label: 'embedding.params', size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST })
    device.queue.writeBuffer(this.#params, 0, new Uint32Array([B, T, C, V, this.#maxU, 0, 0, 0]))
    this.#forward = computePipeline(device, 'embedding.forward', embeddingSrc, { WG }, 'forward')
    this.#forwardAt = computePipeline(device, 'embedding.forward_at', embeddingSrc, { WG }, 'forward_at')
    this.#wpe = computePipeline(device, 'embedding.backward_wpe', embeddingSrc, { WG }, 'backward_wpe')
    this.#wte = computePipeline(device, 'embedding.backward_wte', embeddingSrc, { WG: ROW_WG }, 'backward_wte')
  }

  /** out (B, T, C) ← tokens u32 (B, T), wte (V, C), wpe (maxT, C). A token >= V gives NaN rows. */
  forward (pass: GPUComputePassEncoder, out: GpuTensor, tokens: GpuTensor, wte: GpuTensor, wpe: GpuTensor): void {
    const { B, T, C, V, maxT } = this
    expectShape(out, [B, T, C], 'embedding.forward out')
    expectShape(tokens, [B, T], 'embedding.forward tokens', 'u32')
    expectShape(wte, [V, C], 'embedding.forward wte')
    expectShape(wpe, [maxT, C], 'embedding.forward wpe')
    this.#dispatch(pass, this.#forward, 'embedding.forward', { 1: tokens, 2: wte, 3: wpe, 4: out }, this.#groups(B * T * C))
  }

  /**
   * Decoding, T = 1: out (B, 1, C) ← tokens (B, 1) at positions u32 (B), a buffer the caller fills
   * (a KV cache's: each row's next position). A position ≥ maxT reads past wpe: callers bound it.
   */
  forwardAt (pass: GPUComputePassEncoder, out: GpuTensor, tokens: GpuTensor, positions: GPUBuffer, wte: GpuTensor, wpe: GpuTensor): void {
    const { B, T, C, V, maxT } = this
    if (T !== 1) throw new ShapeError(`embedding.forward_at decodes one position per row; this plan has T = ${T}`)
    expectShape(out, [B, 1, C], 'embedding.forward_at out')
    expectShape(tokens, [B, 1], 'embedding.forward_at tokens', 'u32')
    expectShape(wte, [V, C], 'embedding.forward_at wte')
    expectShape(wpe, [maxT, C], 'embedding.forward_at wpe')
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.#params } }, { binding: 9, resource: { buffer: positions } }]
    for (const [k, t] of Object.entries({ 1: tokens, 2: wte, 3: wpe, 4: out })) entries.push({ binding: Number(k), resource: binding(t) })
    pass.setPipeline(this.#forwardAt)
    pass.setBindGroup(0, this.#device.createBindGroup({ label: 'embedding.forward_at', layout: this.#forwardAt.getBindGroupLayout(0), entries }))
    pass.dispatchWorkgroups(this.#groups(B * C))
  }

  /** dwte (V, C) +=, dwpe (maxT, C) += ← dout (B, T, C), index u32 [indexLength] from buildTokenIndex(tokens). */
  backward (pass: GPUComputePassEncoder, dwte: GpuTensor, dwpe: GpuTensor, dout: GpuTensor, index: GpuTensor): void {
    const { B, T, C, V, maxT } = this
    expectShape(dwte, [V, C], 'embedding.backward dwte')
    expectShape(dwpe, [maxT, C], 'embedding.backward dwpe')
    expectShape(dout, [B, T, C], 'embedding.backward dout')
    expectShape(index, [this.indexLength], 'embedding.backward index', 'u32')
    this.#dispatch(pass, this.#wpe, 'embedding.backward_wpe', { 5: dout, 7: dwpe }, this.#groups(T * C))
    this.#dispatch(pass, this.#wte, 'embedding.backward_wte', { 5: dout, 6: dwte, 8: index }, this.#maxU)
  }

  #groups (n: number): number {
    return Math.min(Math.ceil(n / WG), this.#device.limits.maxComputeWorkgroupsPerDimension) // grid-stride covers the rest
  }

  #dispatch (pass: GPUComputePassEncoder, pipeline: GPUComputePipeline, label: string, tensors: Record<number, GpuTensor>, groups: number): void {
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.#params } }]
    for (const [k, t] of Object.entries(tensors)) entries.push({ binding: Number(k), resource: binding(t) })
    pass.setPipeline(pipeline)
    pass.setBindGroup(0, this.#device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries }))
    pass.dispatchWorkgroups(groups)
  }
}
