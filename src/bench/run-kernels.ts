// Times our kernels against onnxruntime-web's WebGPU EP on the same GPUDevice, in the same page,
// with data GPU-resident on both sides. Runs in the browser; src/cli/bench.ts drives it.
import * as ort from 'onnxruntime-web/webgpu'
import { MatmulTuner, memoryTuneStore, type TuneResult } from '../gpu/autotune.ts'
import { requestTabgradDevice, type AdapterSummary } from '../gpu/device.ts'
import { KERNEL_OPS, type BenchContext, type KernelOp, type OurRun } from './kernel-ops.ts'
import { onnxModel } from './onnx.ts'

export interface KernelBenchInit {
  /** Only ops whose `op` starts with one of these. @default all */
  ops?: string[]
  /** Only shapes whose largest dimension is at most this (short SwiftShader runs). @default all */
  maxDim?: number
  /** Timed rounds per op and side (each a batch of iterations), after one warm-up. @default 3 */
  iterations?: number
  /** Autotune matmul shapes first (else the untuned default config). @default true */
  tune?: boolean
  /** Time the onnxruntime-web twins. @default true */
  ort?: boolean
  /** Where onnxruntime-web's .mjs/.wasm files are served. @default '/node_modules/onnxruntime-web/dist/' */
  ortWasmPaths?: string
}

export interface OpResult {
  op: string
  shape: Record<string, number>
  flops: number
  ours_ms: number
  ours_gflops: number
  ort_ms: number | null
  ort_gflops: number | null
  /** ours / ORT throughput: above 1 means we are faster. */
  ratio: number | null
  /** Largest |ours − ORT| over the output, from one run on the same random inputs. */
  max_abs_diff_vs_ort: number | null
  notes?: Record<string, unknown>
  ort_error?: string
}

export interface KernelBenchResult {
  adapter: AdapterSummary
  date: string
  userAgent: string
  ort_version: string
  /** How times were taken: same method on both sides. */
  timing: { method: 'wall'; iterations: number; note: string }
  ops: OpResult[]
  autotune: Array<TuneResult | { key: string, shapeClass: string, config: string, cached: true }>
}

const log = (msg: string): void => console.log(`tabgrad:bench ${msg}`)

export async function runKernelBench (init: KernelBenchInit = {}): Promise<KernelBenchResult> {
  const rounds = init.iterations ?? 3
  const tg = await requestTabgradDevice({ label: 'bench' })
  const { device } = tg
  const useOrt = init.ort !== false
  if (useOrt) {
    ort.env.wasm.wasmPaths = init.ortWasmPaths ?? '/node_modules/onnxruntime-web/dist/'
    ort.env.wasm.numThreads = 1 // no cross-origin isolation in the bench page
    ort.env.logLevel = 'error'
  }
  // A fresh store: the bench reports what this adapter picks now, not an old choice.
  const ctx: BenchContext = { tg, tuner: new MatmulTuner(tg, { store: memoryTuneStore() }), tune: init.tune !== false }

  const ops = KERNEL_OPS.filter(o => (init.ops == null || init.ops.some(p => o.op.startsWith(p))) &&
    (init.maxDim == null || Math.max(...Object.values(o.shape)) <= init.maxDim))
  const results: OpResult[] = []
  for (const op of ops) {
    const shape = Object.entries(op.shape).map(([k, v]) => `${k}=${v}`).join(' ')
    log(`${op.op} ${shape}`)
    const ours = await op.ours(ctx)
    let twin: OrtTwin | undefined
    let ortError: string | undefined
    try {
      const runOurs = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) {
          const enc = device.createCommandEncoder({ label: `bench.${op.op}` })
          const pass = enc.beginComputePass({ label: `bench.${op.op}` })
          ours.encode(pass)
          pass.end()
          device.queue.submit([enc.finish()])
        }
        await device.queue.onSubmittedWorkDone()
      }
      if (useOrt && op.ort != null) {
        try { twin = await OrtTwin.create(device, op, ours) } catch (err) { ortError = errorText(err) }
      }
      // Warm-up (pipelines, first touch), then size a batch to about 20 ms so sync latency
      // doesn't dominate fast GPUs; slow adapters run one iteration per batch.
      const warm = await elapsed(() => runOurs(1))
      const inner = Math.max(1, Math.min(100, Math.round(20 / Math.max(warm, 1e-3))))
      // Alternate the two sides round by round so load drift on a shared machine hits both.
      const oursMs: number[] = []
      const ortMs: number[] = []
      for (let r = 0; r < rounds; r++) {
        oursMs.push(await elapsed(() => runOurs(inner)) / inner)
        if (twin != null && ortError == null) {
          try { ortMs.push(await elapsed(() => twin!.run(inner)) / inner) } catch (err) { ortError = errorText(err) }
        }
      }
      const oursT = median(oursMs)
      const r: OpResult = {
        op: op.op,
        shape: op.shape,
        flops: op.flops,
        ours_ms: oursT,
        ours_gflops: op.flops / oursT / 1e6,
        ort_ms: null,
        ort_gflops: null,
        ratio: null,
        max_abs_diff_vs_ort: twin?.maxAbsDiff ?? null,
        notes: { ...ours.notes, iterations_per_round: inner, rounds }
      }
      if (ortMs.length > 0 && ortError == null) {
        r.ort_ms = median(ortMs)
        r.ort_gflops = op.flops / r.ort_ms / 1e6
        r.ratio = r.ours_gflops / r.ort_gflops
      }
      if (ortError != null) { r.ort_error = ortError; log(`  ORT failed: ${ortError}`) }
      log(`  ours ${r.ours_gflops.toFixed(2)} GFLOP/s, ort ${r.ort_gflops?.toFixed(2) ?? '-'} GFLOP/s`)
      results.push(r)
    } finally {
      await twin?.release()
      ours.destroy()
    }
  }
  return {
    adapter: tg.summary,
    date: new Date().toISOString(),
    userAgent: navigator.userAgent,
    ort_version: ort.env.versions.web ?? ort.env.versions.common,
    timing: {
      method: 'wall',
      iterations: rounds,
      note: 'median over rounds of wall-clock per iteration; each round runs a batch of iterations (one submit, or one session.run, each) and waits for queue.onSubmittedWorkDone; ours and ORT alternate round by round on the same GPUDevice; one warm-up first'
    },
    ops: results,
    autotune: [...ctx.tuner.results.values()]
  }
}

const errorText = (err: unknown): string => String((err as Error)?.message ?? err)

async function elapsed (f: () => Promise<void>): Promise<number> {
  const t0 = performance.now()
  await f()
  return performance.now() - t0
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

// ---- onnxruntime-web side

/** An ORT session of the op's one-node graph, fed our GPU buffers, checked once against our output. */
class OrtTwin {
  readonly maxAbsDiff: number
  readonly #device: GPUDevice
  readonly #session: ort.InferenceSession
  readonly #feeds: Record<string, ort.Tensor>
  readonly #outName: string

  private constructor (device: GPUDevice, session: ort.InferenceSession, feeds: Record<string, ort.Tensor>, outName: string, maxAbsDiff: number) {
    this.#device = device; this.#session = session; this.#feeds = feeds; this.#outName = outName; this.maxAbsDiff = maxAbsDiff
  }

  static async create (device: GPUDevice, op: KernelOp, ours: OurRun): Promise<OrtTwin> {
    const graph = op.ort!
    const session = await ort.InferenceSession.create(onnxModel(graph), {
      // ORT computes on our device, so both sides read the very same GPU buffers (ORT 1.30's
      // WebGPU EP takes the device as an EP option; env.webgpu.device is not consulted).
      executionProviders: [{ name: 'webgpu', device } as ort.InferenceSession.ExecutionProviderConfig],
      preferredOutputLocation: 'gpu-buffer',
      graphOptimizationLevel: 'all'
    })
    try {
      const feeds: Record<string, ort.Tensor> = {}
      graph.inputs.forEach((v, i) => {
        feeds[v.name] = ort.Tensor.fromGpuBuffer(ours.inputs[i], { dataType: 'float32', dims: v.dims })
      })
      const outName = graph.outputs[0].name
      // Our kernel has run on these inputs (the autotuner or a warm-up), so compare outputs now.
      const encode = device.createCommandEncoder({ label: 'bench.crosscheck' })
      const pass = encode.beginComputePass({ label: 'bench.crosscheck' })
      ours.encode(pass)
      pass.end()
      device.queue.submit([encode.finish()])
      const mine = await readBuffer(device, ours.output, graph.outputs[0].dims.reduce((a, b) => a * b, 1))
      const first = (await session.run(feeds))[outName]
      const theirs = await first.getData() as Float32Array
      first.dispose()
      let maxAbsDiff = 0
      let maxAbs = 0
      for (let i = 0; i < theirs.length; i++) {
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs(theirs[i] - mine[i]))
        maxAbs = Math.max(maxAbs, Math.abs(mine[i]))
      }
      // All-zero outputs would make the cross-check vacuous.
      if (maxAbs === 0) throw new Error(`${op.op}: our output is all zeros, cross-check with ORT is meaningless`)
      return new OrtTwin(device, session, feeds, outName, maxAbsDiff)
    } catch (err) {
      await session.release()
      throw err
    }
  }

  async run (n: number): Promise<void> {
    for (let i = 0; i < n; i++) (await this.#session.run(this.#feeds))[this.#outName].dispose()
    await this.#device.queue.onSubmittedWorkDone()
  }

  async release (): Promise<void> {
    await this.#session.release()
  }
}

async function readBuffer (device: GPUDevice, buffer: GPUBuffer, elements: number): Promise<Float32Array> {
  const staging = device.createBuffer({ label: 'bench.readback', size: elements * 4, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ })
  const enc = device.createCommandEncoder({ label: 'bench.readback' })
  enc.copyBufferToBuffer(buffer, 0, staging, 0, elements * 4)
  device.queue.submit([enc.finish()])
  await staging.mapAsync(GPUMapMode.READ)
  const out = new Float32Array(staging.getMappedRange().slice(0))
  staging.destroy()
  return out
}
