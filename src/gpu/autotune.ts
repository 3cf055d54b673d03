// Picks a matmul tile config per adapter and shape class by timing the shipped candidates on first
// use, and remembers the choice: IndexedDB in the browser (survives reloads, one tuning per
// volunteer GPU), memory elsewhere (Node CLI). Untuned, the plan uses defaultTileConfig.
import { openDB, type IDBPDatabase } from 'idb'
import type { AdapterSummary, TabgradDevice } from './device.ts'
import { Matmul, TILE_CONFIGS, configName, configProblem, defaultTileConfig, operandShapes, parseConfigName, type MatmulInit, type MatmulLayout, type TileConfig } from './kernels/matmul.ts'
import { createBuffer, type GpuTensor } from './tensor.ts'
import { matmulSource } from './kernels/matmul-main.ts'

export interface MatmulProblem {
  M: number
  K: number
  N: number
  layout: MatmulLayout
  /** @default 1 */
  batch?: number
}

// ---- keys

/** Vendor, architecture and device: the same GPU model tunes the same way. */
export function adapterKey (summary: Pick<AdapterSummary, 'vendor' | 'architecture' | 'device'>): string {
  return [summary.vendor, summary.architecture, summary.device].map(s => s === '' ? '?' : s).join('/')
}

const log2Bucket = (x: number): number => Math.ceil(Math.log2(Math.max(1, x)))

/**
 * Shapes that should share a config: the layout, log2 buckets of M, K, N (and batch), and how
 * well they align (64/16 fits the big tiles without bounds checks, 4 still allows vec4 rows).
 */
export function shapeClass (p: MatmulProblem): string {
  const { M, K, N } = p
  const align = M % 64 === 0 && N % 64 === 0 && K % 16 === 0 ? 'a64' : M % 4 === 0 && N % 4 === 0 && K % 4 === 0 ? 'a4' : 'a1'
  const batch = p.batch ?? 1
  return `${p.layout}_m${log2Bucket(M)}_k${log2Bucket(K)}_n${log2Bucket(N)}${batch > 1 ? `_b${log2Bucket(batch)}` : ''}_${align}`
}

// FNV-1a of the shader, so editing the kernel invalidates stored choices.
function hash (s: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193) }
  return (h >>> 0).toString(16)
}
// Tunings made for another kernel version are stale.
const SHADER_VERSION = hash(matmulSource(8, 8, 4))

// ---- stores

/** Where tuning choices live, keyed by adapter + shape class. Values are config names. */
export interface TuneStore {
  get: (key: string) => Promise<string | undefined>
  set: (key: string, value: string) => Promise<void>
}

export function memoryTuneStore (): TuneStore {
  const map = new Map<string, string>()
  return {
    get: async key => map.get(key),
    set: async (key, value) => { map.set(key, value) }
  }
}

export interface IdbTuneStoreInit {
  /** @default 'tabgrad-autotune' */
  dbName?: string
}

/** IndexedDB store (browser main thread or worker). */
export function idbTuneStore (init: IdbTuneStoreInit = {}): TuneStore {
  let db: Promise<IDBPDatabase> | undefined
  const open = async (): Promise<IDBPDatabase> => {
    db ??= openDB(init.dbName ?? 'tabgrad-autotune', 1, { upgrade (d) { d.createObjectStore('choices') } })
    return await db
  }
  return {
    get: async key => (await (await open()).get('choices', key)) as string | undefined,
    set: async (key, value) => { await (await open()).put('choices', value, key) }
  }
}

let processStore: TuneStore | undefined
/** IndexedDB where it exists, else one in-memory store shared by the process. */
export function defaultTuneStore (): TuneStore {
  processStore ??= typeof indexedDB !== 'undefined' ? idbTuneStore() : memoryTuneStore()
  return processStore
}

// ---- timing

export type TimingMethod = 'timestamp' | 'wall'

export interface KernelTiming {
  /** Mean milliseconds per iteration. */
  ms: number
  iterations: number
  method: TimingMethod
}

export interface TimeKernelInit {
  /** Iterations measured after one warm-up. @default 3 */
  iterations?: number
  /** Prefer GPU timestamps when the device has them. @default true */
  timestamps?: boolean
  /** Run one untimed iteration first (pipeline compilation, first touch). @default true */
  warmup?: boolean
  label?: string
}

/**
 * Times `encode` (which records one iteration into a compute pass). With timestamp-query, all
 * iterations run in one pass between two timestamps; otherwise each iteration is its own submit
 * and the wall clock runs until `onSubmittedWorkDone`.
 */
export async function timeKernel (tg: TabgradDevice, encode: (pass: GPUComputePassEncoder) => void, init: TimeKernelInit = {}): Promise<KernelTiming> {
  const { device } = tg
  const iterations = init.iterations ?? 3
  const label = init.label ?? 'timeKernel'
  const submit = (n: number, timestampWrites?: GPUComputePassTimestampWrites): void => {
    const enc = device.createCommandEncoder({ label })
    const pass = enc.beginComputePass({ label, timestampWrites })
    for (let i = 0; i < n; i++) encode(pass)
    pass.end()
    if (timestampWrites != null) {
      enc.resolveQuerySet(timestampWrites.querySet, 0, 2, resolve!, 0)
      enc.copyBufferToBuffer(resolve!, 0, readback!, 0, 16)
    }
    device.queue.submit([enc.finish()])
  }
  let querySet: GPUQuerySet | undefined
  let resolve: GPUBuffer | undefined
  let readback: GPUBuffer | undefined
  // Warm-up: pipeline compilation and first-touch costs stay out of the numbers.
  if (init.warmup !== false) {
    submit(1)
    await device.queue.onSubmittedWorkDone()
  }
  if (tg.hasTimestampQuery && init.timestamps !== false) {
    querySet = device.createQuerySet({ label: `${label}.timestamps`, type: 'timestamp', count: 2 })
    resolve = device.createBuffer({ label: `${label}.resolve`, size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC })
    readback = device.createBuffer({ label: `${label}.readback`, size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ })
    try {
      submit(iterations, { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 })
      await readback.mapAsync(GPUMapMode.READ)
      const [t0, t1] = new BigUint64Array(readback.getMappedRange())
      readback.unmap()
      const ns = Number(t1 - t0)
      // Some implementations return zeros or quantize coarsely: fall back to the wall clock then.
      if (ns > 0) return { ms: ns / 1e6 / iterations, iterations, method: 'timestamp' }
    } finally {
      querySet.destroy(); resolve.destroy(); readback.destroy()
    }
  }
  const t0 = performance.now()
  for (let i = 0; i < iterations; i++) submit(1)
  await device.queue.onSubmittedWorkDone()
  return { ms: (performance.now() - t0) / iterations, iterations, method: 'wall' }
}

// ---- the tuner

export interface TuneResult {
  key: string
  shapeClass: string
  /** The shape the class was tuned on. */
  problem: MatmulProblem
  config: string
  timings: Array<{ config: string, ms: number, gflops: number, method: TimingMethod }>
}

export interface MatmulTunerInit {
  /** @default defaultTuneStore() */
  store?: TuneStore
  /** @default TILE_CONFIGS that fit the device */
  candidates?: readonly TileConfig[]
  /**
   * Time spent per candidate is aimed at this many milliseconds (at least one iteration),
   * so slow adapters (SwiftShader) aren't held up by a fixed count. @default 50
   */
  targetMsPerCandidate?: number
  /**
   * Enough that Chrome's 100 µs timestamp quantization stays small against a fast kernel's
   * total. @default 200
   */
  maxIterations?: number
}

export class MatmulTuner {
  readonly tg: TabgradDevice
  /** Choices timed or loaded in this process, by store key (the benchmark reports them). */
  readonly results = new Map<string, TuneResult | { key: string, shapeClass: string, config: string, cached: true }>()
  readonly #store: TuneStore
  readonly #candidates: readonly TileConfig[]
  readonly #targetMs: number
  readonly #maxIterations: number
  readonly #pending = new Map<string, Promise<TileConfig>>()

  constructor (tg: TabgradDevice, init: MatmulTunerInit = {}) {
    this.tg = tg
    this.#store = init.store ?? defaultTuneStore()
    this.#candidates = (init.candidates ?? TILE_CONFIGS).filter(c => configProblem(c, tg.device.limits) == null)
    this.#targetMs = init.targetMsPerCandidate ?? 50
    this.#maxIterations = init.maxIterations ?? 200
  }

  key (p: MatmulProblem): string {
    return `matmul/${SHADER_VERSION}/${adapterKey(this.tg.summary)}/${shapeClass(p)}`
  }

  /** The config for this problem's class: stored, or timed now (once per class, even if asked concurrently). */
  async configFor (p: MatmulProblem): Promise<TileConfig> {
    const key = this.key(p)
    let pending = this.#pending.get(key)
    if (pending == null) {
      pending = this.#lookupOrTune(key, p)
      this.#pending.set(key, pending)
      pending.catch(() => this.#pending.delete(key))
    }
    return await pending
  }

  /** A Matmul plan with the tuned config for its shape. */
  async plan (init: MatmulInit): Promise<Matmul> {
    const config = await this.configFor(init)
    return new Matmul(this.tg.device, { ...init, config })
  }

  async #lookupOrTune (key: string, p: MatmulProblem): Promise<TileConfig> {
    const stored = await this.#store.get(key)
    const parsed = stored != null ? parseConfigName(stored) : undefined
    if (parsed != null && configProblem(parsed, this.tg.device.limits) == null) {
      this.results.set(key, { key, shapeClass: shapeClass(p), config: stored!, cached: true })
      return parsed
    }
    const result = await this.tune(p)
    await this.#store.set(key, result.config)
    this.results.set(key, result)
    return parseConfigName(result.config)!
  }

  /** Times every candidate on this exact problem; does not consult or write the store. */
  async tune (p: MatmulProblem): Promise<TuneResult> {
    const { device } = this.tg
    const { M, K, N, layout } = p
    const batch = p.batch ?? 1
    const { a: aShape, b: bShape } = operandShapes(layout, M, K, N)
    // Contents don't change the timing; fresh buffers are zero-filled.
    const tensor = (shape: number[], label: string): GpuTensor =>
      ({ buffer: createBuffer(device, batch * shape[0] * shape[1], label), offset: 0, shape: batch > 1 ? [batch, ...shape] : shape, dtype: 'f32' })
    const a = tensor(aShape, 'autotune.a')
    const b = tensor(bShape, 'autotune.b')
    const out = tensor([M, N], 'autotune.out')
    const timings: TuneResult['timings'] = []
    try {
      for (const config of this.#candidatesFor(p)) {
        const plan = new Matmul(device, { M, K, N, layout, batch, config, label: `autotune.${configName(config)}` })
        const encode = (pass: GPUComputePassEncoder): void => plan.encode(pass, a, b, out)
        const probe = await timeKernel(this.tg, encode, { iterations: 1, label: 'autotune' })
        const iterations = Math.max(1, Math.min(this.#maxIterations, Math.round(this.#targetMs / Math.max(probe.ms, 1e-3))))
        const t = iterations > 1 ? await timeKernel(this.tg, encode, { iterations, warmup: false, label: 'autotune' }) : probe
        timings.push({ config: configName(config), ms: t.ms, gflops: plan.flops / t.ms / 1e6, method: t.method })
        plan.destroy()
      }
    } finally {
      a.buffer.destroy(); b.buffer.destroy(); out.buffer.destroy()
    }
    const best = timings.reduce((x, y) => y.ms < x.ms ? y : x)
    return { key: this.key(p), shapeClass: shapeClass(p), problem: p, config: best.config, timings }
  }

  // Tiles far bigger than the problem only add bounds-checked waste: skip them, but always keep
  // the default so the tuned choice is never worse than the untuned one.
  #candidatesFor (p: MatmulProblem): TileConfig[] {
    const fallback = defaultTileConfig(this.tg.device)
    const fits = this.#candidates.filter(c => c.tileM <= 2 * Math.max(32, p.M) && c.tileN <= 2 * Math.max(32, p.N))
    if (!fits.some(c => configName(c) === configName(fallback))) fits.unshift(fallback)
    return fits
  }
}
