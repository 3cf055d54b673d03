// Fused softmax cross-entropy for the LM head: logits (BT, V) and targets u32 (BT) give
// per-position losses (BT) and dlogits (BT, V) = (softmax − onehot) · scale, WRITTEN (not
// accumulated). scale defaults to 1/BT, i.e. d(mean loss)/dlogits; with k microbatches
// accumulated into one step pass 1/(k·BT). The mean loss is the caller's Σ losses / BT.
// dlogits may be the very view of logits (in place, as llm.c) to save a (BT, V) buffer.
import reduceSrc from '../../../shaders/reduce.wgsl?raw'
import crossentropySrc from '../../../shaders/crossentropy.wgsl?raw'
import { LimitError } from '../errors.ts'
import { computePipeline } from '../pipeline-cache.ts'
import { binding, expectShape, type GpuTensor } from '../tensor.ts'

const SRC = reduceSrc + crossentropySrc

export interface CrossEntropyInit {
  /** Multiplies dlogits. @default 1 / BT */
  scale?: number
}

/** Threads per row: enough for ~4 logits each, a power of two in [32, 256]. */
function rowWorkgroupSize (V: number): number {
  let wg = 32
  while (wg < 256 && wg * 4 < V) wg *= 2
  return wg
}

export class CrossEntropy {
  readonly BT: number
  readonly V: number
  readonly #device: GPUDevice
  readonly #params: GPUBuffer
  readonly #forward: GPUComputePipeline
  readonly #forwardBackward: GPUComputePipeline
  readonly #inPlace: GPUComputePipeline

  constructor (device: GPUDevice, BT: number, V: number, init: CrossEntropyInit = {}) {
    if (BT > device.limits.maxComputeWorkgroupsPerDimension) throw new LimitError(`crossentropy: ${BT} rows exceed maxComputeWorkgroupsPerDimension`)
    this.BT = BT
    this.V = V
    this.#device = device
    this.#params = device.createBuffer({ label: 'crossentropy.params', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST })
    const data = new ArrayBuffer(16)
    new Uint32Array(data, 0, 2).set([BT, V])
    new Float32Array(data, 8, 1)[0] = init.scale ?? 1 / BT
    device.queue.writeBuffer(this.#params, 0, data)
    const constants = { WG: rowWorkgroupSize(V) }
    this.#forward = computePipeline(device, 'crossentropy.forward', SRC, constants, 'forward')
    this.#forwardBackward = computePipeline(device, 'crossentropy.forward_backward', SRC, constants, 'forward_backward')
    this.#inPlace = computePipeline(device, 'crossentropy.forward_backward_inplace', SRC, constants, 'forward_backward_inplace')
  }

  /** losses (BT) ← logits (BT, V), targets u32 (BT). For evaluation: no gradient. */
  forward (pass: GPUComputePassEncoder, losses: GpuTensor, logits: GpuTensor, targets: GpuTensor): void {
    this.#check(losses, logits, targets)
    this.#dispatch(pass, this.#forward, 'crossentropy.forward', { 1: logits, 2: targets, 3: losses })
  }

  /** losses (BT) and dlogits (BT, V) ← logits (BT, V), targets u32 (BT). dlogits may be logits itself. */
  forwardBackward (pass: GPUComputePassEncoder, losses: GpuTensor, dlogits: GpuTensor, logits: GpuTensor, targets: GpuTensor): void {
    this.#check(losses, logits, targets)
    expectShape(dlogits, [this.BT, this.V], 'crossentropy dlogits')
    if (dlogits.buffer === logits.buffer && dlogits.offset === logits.offset) {
      this.#dispatch(pass, this.#inPlace, 'crossentropy.forward_backward_inplace', { 1: logits, 2: targets, 3: losses })
    } else {
      this.#dispatch(pass, this.#forwardBackward, 'crossentropy.forward_backward', { 1: logits, 2: targets, 3: losses, 4: dlogits })
    }
  }

  #check (losses: GpuTensor, logits: GpuTensor, targets: GpuTensor): void {
    expectShape(losses, [this.BT], 'crossentropy losses')
    expectShape(logits, [this.BT, this.V], 'crossentropy logits')
    expectShape(targets, [this.BT], 'crossentropy targets', 'u32')
  }

  #dispatch (pass: GPUComputePassEncoder, pipeline: GPUComputePipeline, label: string, tensors: Record<number, GpuTensor>): void {
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.#params } }]
    for (const [k, t] of Object.entries(tensors)) entries.push({ binding: Number(k), resource: binding(t) })
    pass.setPipeline(pipeline)
    pass.setBindGroup(0, this.#device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries }))
    pass.dispatchWorkgroups(this.BT)
  }
}
