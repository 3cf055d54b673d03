// Times our kernels against onnxruntime-web's WebGPU EP on the same GPUDevice, in the same page,
// with data GPU-resident on both sides. Runs in the browser; src/cli/bench.ts drives it.
import * as ort from 'onnxruntime-web/webgpu'
import { MatmulTuner, memoryTuneStore, timeKernel, type TuneResult } from '../gpu/autotune.ts'
import { requestTabgradDevice, type AdapterSummary } from '../gpu/device.ts'
import { KERNEL_OPS, type BenchContext, type KernelOp, type OurRun } from './kernel-ops.ts'
import { onnxModel } from './onnx.ts'

export interface KernelBenchInit {
  /** Only ops whose `op` starts with one of these. @default all */
  ops?: string[]
  /** Only shapes whose largest dimension is at most this (short SwiftShader runs). @default all */
  maxDim?: number
  /** Timed iterations per op and side, after one warm-up. @default 3 */
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
  const iterations = init.iterations ?? 3
  const tg = await requestTabgradDevice({ label: 'bench' })
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
    try {
      const t = await timeKernel(tg, ours.encode, { iterations, timestamps: false, label: `bench.${op.op}` })
      const r: OpResult = {
        op: op.op,
        shape: op.shape,
        flops: op.flops,
        ours_ms: t.ms,
        ours_gflops: op.flops / t.ms / 1e6,
        ort_ms: null,
        ort_gflops: null,
        ratio: null,
        max_abs_diff_vs_ort: null,
        notes: ours.notes
      }
      if (useOrt && op.ort != null) {
        try {
          const o = await timeOrt(tg.device, op, ours, iterations)
          r.ort_ms = o.ms
          r.ort_gflops = op.flops / o.ms / 1e6
          r.ratio = r.ours_gflops / r.ort_gflops
          r.max_abs_diff_vs_ort = o.maxAbsDiff
        } catch (err) {
          r.ort_error = String((err as Error)?.message ?? err)
          log(`ORT failed: ${r.ort_error}`)
        }
      }
      log(`  ours ${r.ours_gflops.toFixed(2)} GFLOP/s, ort ${r.ort_gflops?.toFixed(2) ?? '-'} GFLOP/s`)
      results.push(r)
    } finally {
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
      iterations,
      note: 'mean wall-clock per iteration: one submit (ours) or one session.run (ORT) each, then queue.onSubmittedWorkDone; one warm-up first; same GPUDevice for both'
    },
    ops: results,
    autotune: [...ctx.tuner.results.values()]
  }
}

// ---- onnxruntime-web side

async function timeOrt (device: GPUDevice, op: KernelOp, ours: OurRun, iterations: number): Promise<{ ms: number, maxAbsDiff: number }> {
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
    const run = async (): Promise<ort.Tensor> => (await session.run(feeds))[outName]

    // Warm-up doubles as the cross-check: ours has already run on the same inputs.
    const first = await run()
    const theirs = await first.getData() as Float32Array
    first.dispose()
    const mine = await readBuffer(device, ours.output, theirs.length)
    let maxAbsDiff = 0
    let maxAbs = 0
    for (let i = 0; i < theirs.length; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(theirs[i] - mine[i]))
      maxAbs = Math.max(maxAbs, Math.abs(mine[i]))
    }
    // All-zero outputs would make the cross-check vacuous.
    if (maxAbs === 0) throw new Error(`${op.op}: our output is all zeros, cross-check with ORT is meaningless`)

    await device.queue.onSubmittedWorkDone()
    const t0 = performance.now()
    for (let i = 0; i < iterations; i++) (await run()).dispose()
    await device.queue.onSubmittedWorkDone()
    return { ms: (performance.now() - t0) / iterations, maxAbsDiff }
  } finally {
    await session.release()
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
