// Matmul plans: out (+)= op(A)·op(B) (+ bias), fp32, optionally batched. See shaders/matmul.wgsl.
import { matmulSource, type MatmulEpilogue } from './matmul-main.ts'
import { LimitError, ShapeError } from '../errors.ts'
import { computePipeline } from '../pipeline-cache.ts'
import { binding, checkShape, expectShape, numel, type GpuTensor } from '../tensor.ts'

/** nn: A[M,K]·B[K,N]; nt: A[M,K]·B[N,K]ᵀ; tn: A[K,M]ᵀ·B[K,N]. */
export type MatmulLayout = 'nn' | 'nt' | 'tn'

/** Output tile of one workgroup (tileM × tileN, k-step tileK) and of one thread (threadM × threadN). */
export interface TileConfig {
  tileM: number
  tileN: number
  tileK: number
  threadM: number
  threadN: number
}

export interface MatmulInit {
  M: number
  K: number
  N: number
  layout: MatmulLayout
  /** Add bias[N] to every row. @default false */
  bias?: boolean
  /** out += result instead of out = result (gradient accumulation). @default false */
  accumulate?: boolean
  /** Number of independent products, one per workgroup z. @default 1 */
  batch?: number
  /**
   * Batch strides in elements per operand; 0 broadcasts one matrix over the batch. With the
   * default (dense) strides, batched tensors have shape [batch, rows, cols].
   * @default the dense size of each matrix
   */
  strides?: { a?: number, b?: number, out?: number }
  /**
   * Fused after bias: 'gelu' also writes gelu(out) to encode's `aux` (same shape as out);
   * 'gelu-backward' multiplies by gelu'(aux), aux holding the pre-activation (no accumulate).
   * @default 'none'
   */
  epilogue?: MatmulEpilogue
  /** @default defaultTileConfig(device) */
  config?: TileConfig
  /** @default 'matmul' */
  label?: string
}

/** Shipped tile configs, the autotuner's candidates. The first that fits is the default. */
export const TILE_CONFIGS: readonly TileConfig[] = [
  { tileM: 64, tileN: 64, tileK: 16, threadM: 4, threadN: 4 },
  { tileM: 64, tileN: 64, tileK: 16, threadM: 8, threadN: 4 },
  { tileM: 64, tileN: 64, tileK: 8, threadM: 8, threadN: 8 },
  { tileM: 128, tileN: 64, tileK: 8, threadM: 8, threadN: 4 },
  { tileM: 128, tileN: 128, tileK: 8, threadM: 8, threadN: 8 },
  { tileM: 32, tileN: 32, tileK: 16, threadM: 4, threadN: 4 },
  { tileM: 32, tileN: 64, tileK: 16, threadM: 4, threadN: 4 },
  // SwiftShader's best at 512×256×768 (Dawn, 2 cores): 1.15 GFLOP/s vs 1.05 for 64×64×8/8×8
  { tileM: 64, tileN: 64, tileK: 16, threadM: 8, threadN: 8 },
  // Deeper k-steps for A·Bᵀ at large K: a 64-row tile of two [rows, K] operands touches 64+
  // pages per k-step at K = 512 (more than a CPU's L1 TLB holds, so SwiftShader and ORT alike
  // slow down 3-5x there); 32 or 64 k per visit reads more of each page before moving on.
  { tileM: 64, tileN: 64, tileK: 32, threadM: 8, threadN: 8 },
  { tileM: 64, tileN: 64, tileK: 64, threadM: 8, threadN: 8 },
  { tileM: 32, tileN: 32, tileK: 32, threadM: 4, threadN: 4 }
]

export function configName (c: TileConfig): string {
  return `${c.tileM}x${c.tileN}x${c.tileK}_${c.threadM}x${c.threadN}`
}

export function parseConfigName (name: string): TileConfig | undefined {
  const m = /^(\d+)x(\d+)x(\d+)_(\d+)x(\d+)$/.exec(name)
  if (m == null) return undefined
  const [tileM, tileN, tileK, threadM, threadN] = m.slice(1).map(Number)
  return { tileM, tileN, tileK, threadM, threadN }
}

/** Why `c` can't run on a device with these limits, or undefined when it can. */
export function configProblem (c: TileConfig, limits: GPUSupportedLimits): string | undefined {
  if (![4, 8].includes(c.threadM) || ![4, 8].includes(c.threadN)) return 'threadM and threadN must be 4 or 8'
  if (c.tileM % c.threadM !== 0 || c.tileN % c.threadN !== 0) return 'tile must be a multiple of the thread block'
  if (c.tileK % 4 !== 0 || c.tileK <= 0) return 'tileK must be a positive multiple of 4'
  const wgX = c.tileN / c.threadN
  const wgY = c.tileM / c.threadM
  if (wgX * wgY > limits.maxComputeInvocationsPerWorkgroup) return `${wgX * wgY} threads > maxComputeInvocationsPerWorkgroup ${limits.maxComputeInvocationsPerWorkgroup}`
  if (wgX > limits.maxComputeWorkgroupSizeX || wgY > limits.maxComputeWorkgroupSizeY) return 'workgroup size over the adapter limit'
  const bytes = (c.tileM + c.tileN) * c.tileK * 4
  if (bytes > limits.maxComputeWorkgroupStorageSize) return `${bytes} B of tiles > maxComputeWorkgroupStorageSize ${limits.maxComputeWorkgroupStorageSize}`
  return undefined
}

/** A sensible untuned choice for real GPUs: 64×64 tiles, 4×4 outputs per thread, if it fits. */
export function defaultTileConfig (device: GPUDevice): TileConfig {
  const c = TILE_CONFIGS.find(c => configProblem(c, device.limits) == null)
  if (c == null) throw new LimitError('no matmul tile config fits this adapter\'s limits')
  return c
}

/** Shapes of A and B (unbatched) for a layout. */
export function operandShapes (layout: MatmulLayout, M: number, K: number, N: number): { a: [number, number], b: [number, number] } {
  return {
    a: layout === 'tn' ? [K, M] : [M, K],
    b: layout === 'nt' ? [N, K] : [K, N]
  }
}

/** k steps per inner-loop iteration of the generated kernel (every tileK is a multiple of 4). */
const UNROLL_K = 4

// ---- the plan

export class Matmul {
  readonly M: number
  readonly K: number
  readonly N: number
  readonly layout: MatmulLayout
  readonly batch: number
  readonly config: TileConfig
  /** Tiles divide the shape exactly, so the kernel runs without bounds checks. */
  readonly aligned: boolean
  readonly hasBias: boolean
  readonly epilogue: MatmulEpilogue
  readonly label: string
  readonly #device: GPUDevice
  readonly #pipeline: GPUComputePipeline
  readonly #params: GPUBuffer
  readonly #strides: { a: number, b: number, out: number }
  readonly #dense: { a: boolean, b: boolean, out: boolean }
  readonly #groups: [number, number, number]
  // Bind groups are cached per (a, b, out, bias) buffers+offsets: steady-state training
  // re-encodes the same views every step.
  readonly #bindGroups = new Map<string, GPUBindGroup>()

  constructor (device: GPUDevice, init: MatmulInit) {
    const { M, K, N, layout } = init
    const batch = init.batch ?? 1
    this.label = init.label ?? 'matmul'
    checkShape([M, K, N, batch], `${this.label}: M, K, N, batch`)
    if (!['nn', 'nt', 'tn'].includes(layout)) throw new ShapeError(`${this.label}: unknown layout ${String(layout)}`)
    const config = init.config ?? defaultTileConfig(device)
    const problem = configProblem(config, device.limits)
    if (problem != null) throw new LimitError(`${this.label}: tile config ${configName(config)}: ${problem}`)
    this.M = M; this.K = K; this.N = N; this.layout = layout; this.batch = batch; this.config = config
    this.hasBias = init.bias ?? false
    this.epilogue = init.epilogue ?? 'none'
    if (!['none', 'gelu', 'gelu-backward'].includes(this.epilogue)) throw new ShapeError(`${this.label}: unknown epilogue ${String(this.epilogue)}`)
    if (this.epilogue === 'gelu-backward' && init.accumulate === true) throw new ShapeError(`${this.label}: the GELU-backward epilogue writes, it can't accumulate`)
    this.#device = device

    const dense = { a: M * K, b: K * N, out: M * N }
    this.#strides = {
      a: init.strides?.a ?? dense.a,
      b: init.strides?.b ?? dense.b,
      out: init.strides?.out ?? dense.out
    }
    this.#dense = { a: this.#strides.a === dense.a, b: this.#strides.b === dense.b, out: this.#strides.out === dense.out }
    for (const [k, s] of Object.entries(this.#strides)) {
      if (!Number.isInteger(s) || s < 0) throw new ShapeError(`${this.label}: stride ${k} must be a non-negative integer, got ${s}`)
    }
    if (batch > 1 && this.#strides.out < dense.out) throw new ShapeError(`${this.label}: output batch stride ${this.#strides.out} overlaps matrices of ${dense.out}`)
    const maxBinding = device.limits.maxStorageBufferBindingSize
    for (const k of ['a', 'b', 'out'] as const) {
      const bytes = ((batch - 1) * this.#strides[k] + dense[k]) * 4
      if (bytes > maxBinding) throw new LimitError(`${this.label}: ${k} spans ${bytes} B > maxStorageBufferBindingSize ${maxBinding}`)
    }

    const { tileM, tileN, tileK, threadM, threadN } = config
    this.aligned = M % tileM === 0 && N % tileN === 0 && K % tileK === 0 &&
      this.#strides.a % 4 === 0 && this.#strides.b % 4 === 0 && this.#strides.out % 4 === 0
    this.#groups = [Math.ceil(N / tileN), Math.ceil(M / tileM), batch]
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension
    if (this.#groups.some(g => g > maxGroups)) throw new LimitError(`${this.label}: ${this.#groups.join('×')} workgroups > ${maxGroups} per dimension`)

    const key = `matmul_${configName(config)}${this.epilogue === 'none' ? '' : `_${this.epilogue}`}`
    const code = matmulSource(threadM, threadN, UNROLL_K, this.epilogue)
    this.#pipeline = computePipeline(device, key, code, {
      WG_X: tileN / threadN,
      WG_Y: tileM / threadM,
      BK: tileK,
      TRANS_A: layout === 'tn' ? 1 : 0,
      TRANS_B: layout === 'nt' ? 1 : 0,
      ALIGNED: this.aligned ? 1 : 0,
      HAS_BIAS: this.hasBias ? 1 : 0,
      ACCUMULATE: init.accumulate === true ? 1 : 0
    })
    this.#params = device.createBuffer({ label: `${this.label}.params`, size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST })
    device.queue.writeBuffer(this.#params, 0, new Uint32Array([M, K, N, 0, this.#strides.a, this.#strides.b, this.#strides.out, 0]))
  }

  /** Floating-point operations of one encode (multiply and add counted separately). */
  get flops (): number {
    return 2 * this.batch * this.M * this.K * this.N
  }

  /**
   * Records the matmul into `pass`. Shapes are checked here, before anything is dispatched. `aux`
   * is the epilogue's tensor (shaped like out): gelu(out) for 'gelu', the pre-activation for
   * 'gelu-backward'.
   */
  encode (pass: GPUComputePassEncoder, a: GpuTensor, b: GpuTensor, out: GpuTensor, bias?: GpuTensor, aux?: GpuTensor): void {
    const { a: aShape, b: bShape } = operandShapes(this.layout, this.M, this.K, this.N)
    this.#expectOperand(a, aShape, this.#strides.a, this.#dense.a, 'a')
    this.#expectOperand(b, bShape, this.#strides.b, this.#dense.b, 'b')
    this.#expectOperand(out, [this.M, this.N], this.#strides.out, this.#dense.out, 'out')
    if (this.hasBias) {
      if (bias == null) throw new ShapeError(`${this.label}: planned with bias, none given`)
      expectShape(bias, [this.N], `${this.label}: bias`)
    } else if (bias != null) {
      throw new ShapeError(`${this.label}: planned without bias, one given`)
    }
    if (out.buffer === a.buffer || out.buffer === b.buffer || (bias != null && out.buffer === bias.buffer)) {
      throw new ShapeError(`${this.label}: out must not share a buffer with an input`)
    }
    if (this.epilogue === 'none') {
      if (aux != null) throw new ShapeError(`${this.label}: planned without an epilogue, an aux tensor given`)
    } else {
      if (aux == null) throw new ShapeError(`${this.label}: the ${this.epilogue} epilogue needs its aux tensor`)
      this.#expectOperand(aux, [this.M, this.N], this.#strides.out, this.#dense.out, 'aux')
      // act is written next to out (two writable views are fine if apart); pre is read-only.
      const readers = this.epilogue === 'gelu' ? [a, b, bias] : [out]
      if (readers.some(t => t != null && t.buffer === aux.buffer)) throw new ShapeError(`${this.label}: aux must not share a buffer with ${this.epilogue === 'gelu' ? 'an input' : 'out'}`)
      if (this.epilogue === 'gelu' && aux.buffer === out.buffer && overlaps(aux, out)) throw new ShapeError(`${this.label}: aux overlaps out`)
    }
    pass.setPipeline(this.#pipeline)
    pass.setBindGroup(0, this.#bindGroup(a, b, out, bias ?? a, aux))
    pass.dispatchWorkgroups(...this.#groups)
  }

  /** Frees the uniform buffer; the plan can't be encoded afterwards. */
  destroy (): void {
    this.#params.destroy()
    this.#bindGroups.clear()
  }

  #expectOperand (t: GpuTensor, shape: [number, number], stride: number, dense: boolean, what: string): void {
    const name = `${this.label}: ${what}`
    if (this.batch === 1) { expectShape(t, shape, name); return }
    if (dense) { expectShape(t, [this.batch, ...shape], name); return }
    // Strided batch: any shape, as long as the last matrix fits.
    const need = (this.batch - 1) * stride + shape[0] * shape[1]
    expectShape(t, t.shape, name)
    if (numel(t.shape) < need) throw new ShapeError(`${name}: ${this.batch} matrices [${shape.join(', ')}] at stride ${stride} need ${need} elements, tensor has ${numel(t.shape)}`)
  }

  #bindGroup (a: GpuTensor, b: GpuTensor, out: GpuTensor, bias: GpuTensor, aux?: GpuTensor): GPUBindGroup {
    const ts = [a, b, bias, out]
    const key = [...ts, ...(aux != null ? [aux] : [])].map(t => `${ids.get(t.buffer) ?? newId(t.buffer)}@${t.offset}+${numel(t.shape)}`).join(',')
    let group = this.#bindGroups.get(key)
    if (group == null) {
      group = this.#device.createBindGroup({
        label: `${this.label}.bind`,
        layout: this.#pipeline.getBindGroupLayout(0),
        entries: [
          ...ts.map((t, i) => ({ binding: i, resource: binding(t) })),
          { binding: 4, resource: { buffer: this.#params } },
          ...(aux != null ? [{ binding: 5, resource: binding(aux) }] : [])
        ]
      })
      if (this.#bindGroups.size > 64) this.#bindGroups.clear()
      this.#bindGroups.set(key, group)
    }
    return group
  }
}

function overlaps (x: GpuTensor, y: GpuTensor): boolean {
  return x.offset < y.offset + numel(y.shape) && y.offset < x.offset + numel(x.shape)
}

// Buffer identities for bind-group cache keys (labels need not be unique).
const ids = new WeakMap<GPUBuffer, number>()
let nextId = 0
function newId (buffer: GPUBuffer): number {
  const id = nextId++
  ids.set(buffer, id)
  return id
}
