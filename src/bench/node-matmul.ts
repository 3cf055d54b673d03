// Matmul on Node's WebGPU (Dawn, the `webgpu` package): checks every layout against the float64
// reference and autotunes the benchmark shapes, on whatever GPU Dawn finds. For machines without
// a browser (a researcher's GPU box); ORT comparisons need the browser bench.
//   tsx --import ./src/node/register.ts src/bench/node-matmul.ts [--out FILE] [--quick]
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { create, globals } from 'webgpu'
import { matmul as refMatmul } from '../model/cpu/matmul.ts'
import { MatmulTuner, memoryTuneStore, timeKernel } from '../gpu/autotune.ts'
import { requestTabgradDevice } from '../gpu/device.ts'
import { Matmul, TILE_CONFIGS, configName, defaultTileConfig, operandShapes, parseConfigName, type MatmulLayout } from '../gpu/kernels/matmul.ts'
import { compareClose, describeClose, randomArray } from '../gpu/numerics.ts'
import { createTensor, readTensor } from '../gpu/tensor.ts'

const { values } = parseArgs({ options: { out: { type: 'string' }, quick: { type: 'boolean' }, 'correctness-only': { type: 'boolean' }, 'no-check': { type: 'boolean' }, d: { type: 'string' } } })
Object.assign(globalThis, globals)
// Keep the GPU object referenced for the whole run: once it is garbage-collected, Dawn's instance
// goes with it and pending mapAsync calls never settle (the process then aborts in Dawn).
const gpu = create([])
const tg = await requestTabgradDevice({ gpu, label: 'node-matmul' })
const { device } = tg
console.log(`adapter: ${JSON.stringify({ vendor: tg.summary.vendor, architecture: tg.summary.architecture, device: tg.summary.device, description: tg.summary.description })}`)

// ---- correctness on this GPU

const checks: Array<{ case: string, ok: boolean, detail: string }> = []
const layouts: MatmulLayout[] = ['nn', 'nt', 'tn']
for (const config of values['no-check'] === true ? [] : TILE_CONFIGS) {
  for (const layout of layouts) {
    for (const [M, K, N] of [[37, 53, 29], [128, 64, 128]]) {
      for (const opt of [{}, { bias: true, accumulate: true }]) {
        const { a: aShape, b: bShape } = operandShapes(layout, M, K, N)
        const aData = randomArray(M * K, 1); const bData = randomArray(K * N, 2)
        const biasData = randomArray(N, 3); const outInit = randomArray(M * N, 4)
        const bias = 'bias' in opt ? createTensor(device, [N], 'bias', biasData) : undefined
        const plan = new Matmul(device, { M, K, N, layout, config, ...opt })
        const a = createTensor(device, aShape, 'a', aData)
        const b = createTensor(device, bShape, 'b', bData)
        const out = createTensor(device, [M, N], 'out', outInit)
        const enc = device.createCommandEncoder()
        const pass = enc.beginComputePass()
        plan.encode(pass, a, b, out, bias)
        pass.end()
        device.queue.submit([enc.finish()])
        const got = await readTensor(device, out)
        const want = refMatmul(Float64Array.from(aData), Float64Array.from(bData), M, K, N, layout, bias != null ? Float64Array.from(biasData) : undefined)
        if ('accumulate' in opt) for (let i = 0; i < want.length; i++) want[i] += outInit[i]
        const name = `${layout} ${M}x${K}x${N} ${configName(config)}${'bias' in opt ? ' bias+acc' : ''}${plan.aligned ? ' aligned' : ''}`
        const r = compareClose(got, want)
        checks.push({ case: name, ok: r.ok, detail: describeClose(name, r) })
        if (!r.ok) console.log(describeClose(name, r))
        plan.destroy(); a.buffer.destroy(); b.buffer.destroy(); out.buffer.destroy(); bias?.buffer.destroy()
      }
    }
  }
}
if (checks.length > 0) console.log(`correctness: ${checks.filter(c => c.ok).length}/${checks.length} ok`)

// ---- tuning and throughput at the benchmark shapes

const tuner = new MatmulTuner(tg, { store: memoryTuneStore(), targetMsPerCandidate: 20, maxIterations: 50 })
const shapes: Array<{ layout: MatmulLayout, M: number, K: number, N: number }> = []
if (values['correctness-only'] !== true) for (const d of values.d != null ? values.d.split(',').map(Number) : values.quick === true ? [256] : [256, 512, 1024]) {
  for (const layout of layouts) for (const N of [3 * d, d, 4 * d]) shapes.push({ layout, M: 512, K: d, N })
}
const perf = []
if (shapes.length > 0) {
  // Without this, the first shapes timed on an H100 came out 3-4x slow (clocks still ramping).
  const [M, K, N] = [512, 1024, 4096]
  const plan = new Matmul(device, { M, K, N, layout: 'nn' })
  const a = createTensor(device, [M, K], 'warm.a'); const b = createTensor(device, [K, N], 'warm.b'); const out = createTensor(device, [M, N], 'warm.out')
  const t0 = performance.now()
  while (performance.now() - t0 < 1000) await timeKernel(tg, pass => plan.encode(pass, a, b, out), { iterations: 20, warmup: false, timestamps: false })
  plan.destroy(); a.buffer.destroy(); b.buffer.destroy(); out.buffer.destroy()
}
for (const s of shapes) {
  const tuned = await tuner.tune(s)
  const fallback = configName(defaultTileConfig(device))
  const best = tuned.timings.find(t => t.config === tuned.config)!
  const untuned = tuned.timings.find(t => t.config === fallback)!
  // Re-time the winner with more iterations for the headline number.
  const { a: aShape, b: bShape } = operandShapes(s.layout, s.M, s.K, s.N)
  const plan = new Matmul(device, { ...s, config: parseConfigName(tuned.config) })
  const a = createTensor(device, aShape, 'a'); const b = createTensor(device, bShape, 'b'); const out = createTensor(device, [s.M, s.N], 'out')
  const t = await timeKernel(tg, pass => plan.encode(pass, a, b, out), { iterations: 50 })
  plan.destroy(); a.buffer.destroy(); b.buffer.destroy(); out.buffer.destroy()
  const row = { op: `matmul_${s.layout}`, shape: { M: s.M, K: s.K, N: s.N }, config: tuned.config, gflops: plan.flops / t.ms / 1e6, method: t.method, untuned_gflops: untuned.gflops, tuned_gflops_in_sweep: best.gflops, sweep: tuned.timings.map(x => ({ config: x.config, gflops: Number(x.gflops.toPrecision(3)) })) }
  console.log(`${row.op} ${s.M}x${s.K}x${s.N}: ${row.config} ${row.gflops.toPrecision(3)} GFLOP/s (${t.method}), untuned ${untuned.gflops.toPrecision(3)}`)
  perf.push(row)
}

const result = { adapter: tg.summary, runtime: `node ${process.version}, webgpu (Dawn) package`, date: new Date().toISOString(), correctness: checks.length === 0 ? null : { ok: checks.every(c => c.ok), passed: checks.filter(c => c.ok).length, total: checks.length, failures: checks.filter(c => !c.ok).map(c => c.detail) }, ops: perf }
if (values.out != null) await writeFile(values.out, JSON.stringify(result, null, 2) + '\n')
device.destroy()
gpu.toString() // referenced to the end, see above
process.exit(checks.every(c => c.ok) ? 0 : 1)
