// AdamW over a whole stage's flat parameter buffer in ONE dispatch, with weight decay on
// matrices only. The views to update come as segments; each is cut into tiles of
// WG * PER_THREAD elements and a tile table tells each workgroup its range and whether it
// decays. The alternative, one dispatch per view, is 12 dispatches and bind groups per layer.
// Measured on SwiftShader (2 busy cores; 24 views, 0.1M–0.8M elements): both 4–43 ms per
// update, the difference lost in noise. There the arithmetic dominates; on a real GPU each
// dispatch costs microseconds of fixed overhead, which the single dispatch avoids.
//
// Per step: call setStep() (it writes a uniform through the queue, so it applies to the next
// submit: encode at most one update per submit), then encode update().
// The gradient is multiplied by gradScale (setStep) and by clip[0], a 1-element tensor on the
// GPU, e.g. the clip factor GradNorm computed, so clipping needs no CPU round trip.
import adamwSrc from '../../../shaders/adamw.wgsl?raw'
import { ShapeError } from '../errors.ts'
import { computePipeline } from '../pipeline-cache.ts'
import { binding, createBuffer, expectShape, type GpuTensor } from '../tensor.ts'

const WG = 256
const TILE = WG * 4 // elements per workgroup: 4 per thread amortises the tile lookup

export interface AdamWHyper { lr: number, beta1: number, beta2: number, eps: number, weightDecay: number }

/** A range of the flat buffer, in elements, and whether weight decay applies (matrices). */
export interface AdamWSegment { offset: number, length: number, decay: boolean }

export class AdamW {
  readonly n: number
  readonly tiles: number
  readonly #device: GPUDevice
  readonly #params: GPUBuffer
  readonly #tiles: GPUBuffer
  readonly #one: GpuTensor
  readonly #pipeline: GPUComputePipeline
  readonly #grid: [number, number]
  #stepSet = false

  /** n: elements of the flat buffers; segments: the views to update (sorted or not, disjoint). */
  constructor (device: GPUDevice, n: number, segments: readonly AdamWSegment[]) {
    this.n = n
    this.#device = device
    const sorted = [...segments].sort((a, b) => a.offset - b.offset)
    let end = 0
    const table: number[] = []
    for (const s of sorted) {
      if (!Number.isInteger(s.offset) || !Number.isInteger(s.length) || s.offset < end || s.length < 0 || s.offset + s.length > n) {
        throw new ShapeError(`adamw: segment [${s.offset}, +${s.length}) overlaps another or leaves [0, ${n})`)
      }
      for (let start = s.offset; start < s.offset + s.length; start += TILE) {
        table.push(start, Math.min(start + TILE, s.offset + s.length), s.decay ? 1 : 0, 0)
      }
      end = s.offset + s.length
    }
    this.tiles = table.length / 4
    const maxX = device.limits.maxComputeWorkgroupsPerDimension
    this.#grid = [Math.max(1, Math.min(this.tiles, maxX)), Math.max(1, Math.ceil(this.tiles / maxX))]
    this.#tiles = createBuffer(device, Math.max(4, table.length), 'adamw.tiles')
    device.queue.writeBuffer(this.#tiles, 0, new Uint32Array(table))
    this.#one = { buffer: createBuffer(device, 1, 'adamw.one'), offset: 0, shape: [1], dtype: 'f32' }
    device.queue.writeBuffer(this.#one.buffer, 0, new Float32Array([1]))
    this.#params = device.createBuffer({ label: 'adamw.params', size: 48, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST })
    this.#pipeline = computePipeline(device, 'adamw', adamwSrc, { WG })
  }

  /** Hyper-parameters of the next update; step is 1-based (bias correction). */
  setStep (step: number, h: AdamWHyper, gradScale = 1): void {
    if (!Number.isInteger(step) || step < 1) throw new RangeError(`adamw: step ${step} must be a positive integer`)
    const data = new ArrayBuffer(48)
    new Float32Array(data, 0, 8).set([h.lr, h.beta1, h.beta2, h.eps, h.weightDecay, gradScale, 1 - Math.pow(h.beta1, step), 1 - Math.pow(h.beta2, step)])
    new Uint32Array(data, 32, 1)[0] = this.tiles
    this.#device.queue.writeBuffer(this.#params, 0, data)
    this.#stepSet = true
  }

  /** param, m, v updated in place from grad, all flat (n); clip (1) optionally scales grad. */
  update (pass: GPUComputePassEncoder, param: GpuTensor, grad: GpuTensor, m: GpuTensor, v: GpuTensor, clip?: GpuTensor): void {
    const shape = [this.n]
    expectShape(param, shape, 'adamw param')
    expectShape(grad, shape, 'adamw grad')
    expectShape(m, shape, 'adamw m')
    expectShape(v, shape, 'adamw v')
    if (clip != null && (clip.dtype !== 'f32' || clip.shape.reduce((a, b) => a * b, 1) < 1)) throw new ShapeError('adamw clip: expected at least one f32')
    if (!this.#stepSet) throw new RangeError('adamw: call setStep() before update()')
    if (this.tiles === 0) return
    pass.setPipeline(this.#pipeline)
    pass.setBindGroup(0, this.#device.createBindGroup({
      label: 'adamw',
      layout: this.#pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: this.#params } },
        { binding: 1, resource: binding(param) },
        { binding: 2, resource: binding(grad) },
        { binding: 3, resource: binding(m) },
        { binding: 4, resource: binding(v) },
        { binding: 5, resource: { buffer: this.#tiles } },
        { binding: 6, resource: binding(clip ?? this.#one) }
      ]
    }))
    pass.dispatchWorkgroups(...this.#grid)
  }
}
