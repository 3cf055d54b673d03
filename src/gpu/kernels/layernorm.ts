// LayerNorm (N, C) with weight and bias (C), eps 1e-5 (llm.c layernorm_forward/backward).
// Forward saves mean and rstd (N) for backward. Backward accumulates into dinp, dweight and
// dbias; dweight/dbias are reduced without atomics (per-block partials, then a fixed-order sum)
// so the result is bit-identical run to run.
import reduceSrc from '../../../shaders/reduce.wgsl?raw'
import layernormSrc from '../../../shaders/layernorm.wgsl?raw'
import { LimitError } from '../errors.ts'
import { computePipeline } from '../pipeline-cache.ts'
import { binding, createBuffer, expectShape, type GpuTensor } from '../tensor.ts'

const SRC = reduceSrc + layernormSrc

export interface LayerNormInit {
  /** @default 1e-5 */
  eps?: number
  /**
   * Rows each dweight/dbias partial sum covers; fixes the summation order.
   * @default all rows up to 1024 (the reduce dispatch is skipped), else 64 (fastest of 16–128
   * on an H100 at 8192x768)
   */
  rowsPerBlock?: number
  /** Threads per row, a power of two in [32, 256]. @default about C/16 */
  threadsPerRow?: number
}

/**
 * Threads per row: a power of two in [32, 256] giving each thread ~8–16 elements. On an H100 at
 * C = 768, 64 threads beat 256 by 1.45x forward and 1.2x backward (Dawn/Vulkan, 2026-11-24).
 */
function rowWorkgroupSize (C: number): number {
  let wg = 32
  while (wg < 256 && wg * 16 < C) wg *= 2
  return wg
}

const COL_WG = 64

export class LayerNorm {
  readonly N: number
  readonly C: number
  readonly #device: GPUDevice
  readonly #params: GPUBuffer
  readonly #partial: GPUBuffer
  readonly #blocks: number
  readonly #forward: GPUComputePipeline
  readonly #forwardResidual: GPUComputePipeline
  readonly #dinp: GPUComputePipeline
  readonly #partialPipe: GPUComputePipeline
  readonly #reducePipe: GPUComputePipeline

  constructor (device: GPUDevice, N: number, C: number, init: LayerNormInit = {}) {
    const rowsPerBlock = init.rowsPerBlock ?? (N <= 1024 ? N : 64) // one block: one dispatch fewer
    if (N > device.limits.maxComputeWorkgroupsPerDimension) throw new LimitError(`layernorm: ${N} rows exceed maxComputeWorkgroupsPerDimension`)
    this.N = N
    this.C = C
    this.#device = device
    this.#blocks = Math.ceil(N / rowsPerBlock)
    this.#params = device.createBuffer({ label: 'layernorm.params', size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST })
    const data = new ArrayBuffer(32)
    new Uint32Array(data, 0, 4).set([N, C, rowsPerBlock, this.#blocks])
    new Float32Array(data, 16, 1)[0] = init.eps ?? 1e-5
    device.queue.writeBuffer(this.#params, 0, data)
    this.#partial = createBuffer(device, this.#blocks * 2 * C, 'layernorm.partial')
    const rowWG = { WG: init.threadsPerRow ?? rowWorkgroupSize(C) }
    this.#forward = computePipeline(device, 'layernorm.forward', SRC, rowWG, 'forward')
    this.#forwardResidual = computePipeline(device, 'layernorm.forward_residual', SRC, rowWG, 'forward_residual')
    this.#dinp = computePipeline(device, 'layernorm.backward_dinp', SRC, rowWG, 'backward_dinp')
    this.#partialPipe = computePipeline(device, 'layernorm.backward_params_partial', SRC, { WG: COL_WG }, 'backward_params_partial')
    this.#reducePipe = computePipeline(device, 'layernorm.backward_params_reduce', SRC, { WG: COL_WG }, 'backward_params_reduce')
  }

  /** out (N, C), mean (N), rstd (N) ← inp (N, C), weight (C), bias (C). */
  forward (pass: GPUComputePassEncoder, out: GpuTensor, mean: GpuTensor, rstd: GpuTensor, inp: GpuTensor, weight: GpuTensor, bias: GpuTensor): void {
    const { N, C } = this
    expectShape(out, [N, C], 'layernorm.forward out')
    expectShape(mean, [N], 'layernorm.forward mean')
    expectShape(rstd, [N], 'layernorm.forward rstd')
    expectShape(inp, [N, C], 'layernorm.forward inp')
    expectShape(weight, [C], 'layernorm.forward weight')
    expectShape(bias, [C], 'layernorm.forward bias')
    pass.setPipeline(this.#forward)
    pass.setBindGroup(0, this.#bind(this.#forward, 'layernorm.forward', { 1: inp, 2: weight, 3: bias, 4: out, 5: mean, 6: rstd }))
    pass.dispatchWorkgroups(N)
  }

  /**
   * The residual add fused in front: sum = a + b (N, C) is written (backward needs it), then
   * out, mean, rstd ← LayerNorm(sum) as forward. One dispatch instead of two.
   */
  forwardResidual (pass: GPUComputePassEncoder, out: GpuTensor, mean: GpuTensor, rstd: GpuTensor, sum: GpuTensor, a: GpuTensor, b: GpuTensor, weight: GpuTensor, bias: GpuTensor): void {
    const { N, C } = this
    expectShape(out, [N, C], 'layernorm.forward_residual out')
    expectShape(mean, [N], 'layernorm.forward_residual mean')
    expectShape(rstd, [N], 'layernorm.forward_residual rstd')
    for (const [t, what] of [[sum, 'sum'], [a, 'a'], [b, 'b']] as const) expectShape(t, [N, C], `layernorm.forward_residual ${what}`)
    expectShape(weight, [C], 'layernorm.forward_residual weight')
    expectShape(bias, [C], 'layernorm.forward_residual bias')
    pass.setPipeline(this.#forwardResidual)
    pass.setBindGroup(0, this.#bind(this.#forwardResidual, 'layernorm.forward_residual', { 1: sum, 2: weight, 3: bias, 4: out, 5: mean, 6: rstd, 12: a, 13: b }))
    pass.dispatchWorkgroups(N)
  }

  /** dinp (N, C) +=, dweight (C) +=, dbias (C) += ← dout (N, C) and forward's inp, weight, mean, rstd. */
  backward (pass: GPUComputePassEncoder, dinp: GpuTensor, dweight: GpuTensor, dbias: GpuTensor, dout: GpuTensor, inp: GpuTensor, weight: GpuTensor, mean: GpuTensor, rstd: GpuTensor): void {
    const { N, C } = this
    expectShape(dinp, [N, C], 'layernorm.backward dinp')
    expectShape(dweight, [C], 'layernorm.backward dweight')
    expectShape(dbias, [C], 'layernorm.backward dbias')
    expectShape(dout, [N, C], 'layernorm.backward dout')
    expectShape(inp, [N, C], 'layernorm.backward inp')
    expectShape(weight, [C], 'layernorm.backward weight')
    expectShape(mean, [N], 'layernorm.backward mean')
    expectShape(rstd, [N], 'layernorm.backward rstd')
    pass.setPipeline(this.#dinp)
    pass.setBindGroup(0, this.#bind(this.#dinp, 'layernorm.backward_dinp', { 1: inp, 2: weight, 5: mean, 6: rstd, 7: dout, 8: dinp }))
    pass.dispatchWorkgroups(N)
    const cols = Math.ceil(C / COL_WG)
    pass.setPipeline(this.#partialPipe)
    pass.setBindGroup(0, this.#bind(this.#partialPipe, 'layernorm.backward_params_partial', { 1: inp, 5: mean, 6: rstd, 7: dout, 9: dweight, 10: dbias, 11: this.#partial }))
    pass.dispatchWorkgroups(cols, this.#blocks)
    if (this.#blocks === 1) return // the partial pass accumulated into dweight and dbias
    pass.setPipeline(this.#reducePipe)
    pass.setBindGroup(0, this.#bind(this.#reducePipe, 'layernorm.backward_params_reduce', { 9: dweight, 10: dbias, 11: this.#partial }))
    pass.dispatchWorkgroups(cols)
  }

  #bind (pipeline: GPUComputePipeline, label: string, tensors: Record<number, GpuTensor | GPUBuffer>): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.#params } }]
    for (const [k, t] of Object.entries(tensors)) {
      entries.push({ binding: Number(k), resource: t instanceof GPUBuffer ? { buffer: t } : binding(t) })
    }
    return this.#device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries })
  }
}
