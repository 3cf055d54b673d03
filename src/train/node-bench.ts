// GPU stages on Node's WebGPU (Dawn, the `webgpu` package), for machines without a browser:
// first the stage's gradients against the float64 reference (a real GPU runs workgroups in
// parallel, so races SwiftShader hides would show), then training throughput of runTraining.
//   tsx --import ./src/node/register.ts src/train/node-bench.ts [--json FILE] [--quick]
import { writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { create, globals } from 'webgpu'
import { requestTabgradDevice } from '../gpu/device.ts'
import { compareClose } from '../gpu/numerics.ts'
import { GptStage } from '../model/stage.ts'
import { stageBackward, stageForward } from '../model/cpu/gpt.ts'
import { fullRange, type GPTConfig } from '../model/config.ts'
import { stageLayout, viewOf } from '../model/params.ts'
import { createRng, fillNormal } from '../model/rng.ts'
import { runTraining } from './run.ts'

const { values } = parseArgs({ options: { json: { type: 'string' }, quick: { type: 'boolean' } } })
Object.assign(globalThis, globals)
// Keep the GPU object referenced: once collected, Dawn's instance goes and mapAsync never settles.
const gpu = create([])
const tg = await requestTabgradDevice({ gpu, label: 'train-bench' })
const { device } = tg
console.log(`adapter: ${tg.summary.vendor} ${tg.summary.architecture} ${tg.summary.description}`)

// ---- correctness

const check = await (async () => {
  const config: GPTConfig = { vocab: 37, d_model: 48, n_layer: 3, n_head: 3, n_ctx: 9 }
  const B = 2; const T = 7
  const tokens = Uint32Array.from({ length: B * T }, (_, i) => (i * 11 + 5) % 37)
  const targets = Uint32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % 37)
  const full = stageLayout(config, fullRange(config))
  const p64 = new Float64Array(full.totalElements)
  const rng = createRng(7)
  for (const v of full.views) { const t = viewOf(p64, v); fillNormal(t, rng, 0.2); if (v.init === 'ones') for (let i = 0; i < t.length; i++) t[i] += 1 }
  const params = Float32Array.from(p64)
  p64.set(params) // the reference sees the float32 weights
  const fwd = stageForward(full, p64, tokens, B, T, targets)
  const ref = stageBackward(full, p64, fwd).grads
  const stage = new GptStage(device, config, fullRange(config), { B, T, params })
  let worst = 0; let worstName = ''
  for (let rep = 0; rep < 3; rep++) {
    stage.zeroGrad()
    await stage.forward(tokens, targets)
    await stage.backward()
    const g = await stage.exportGrads()
    for (const v of full.views) {
      let max = 0
      for (const x of viewOf(ref, v)) max = Math.max(max, Math.abs(x))
      const r = compareClose(viewOf(g, v), viewOf(ref, v), { rtol: 1e-4, atol: 1e-4 * max + 1e-30 })
      if (r.worstRatio > worst) { worst = r.worstRatio; worstName = v.name }
    }
  }
  stage.destroy()
  const ok = worst <= 1
  console.log(`gradients vs float64 (3 runs): worst ${worstName} at ${worst.toFixed(3)} of the tolerance (rtol 1e-4, floor 1e-4·max): ${ok ? 'ok' : 'MISMATCH'}`)
  return { ok, worstRatio: worst, worst: worstName }
})()

// ---- throughput

// A learnable stand-in corpus: throughput doesn't depend on the text.
const tokens = Uint32Array.from({ length: 1 << 20 }, (_, i) => (Math.imul(i, 2654435761) >>> 24) % 256)
const runs: Array<[string, GPTConfig, number, number, number, number]> = [
  ['small', { vocab: 256, d_model: 384, n_layer: 6, n_head: 6, n_ctx: 256 }, 8, 256, 1, 15],
  ['small', { vocab: 256, d_model: 384, n_layer: 6, n_head: 6, n_ctx: 256 }, 8, 256, 2, 15],
  ['base', { vocab: 256, d_model: 768, n_layer: 12, n_head: 12, n_ctx: 1024 }, 4, 1024, 1, 10]
]
const results = []
for (const [name, config, B, T, S, steps] of values.quick === true ? runs.slice(0, 1) : runs) {
  const r = await runTraining(device, { config, tokens, steps, B, T, lr: 3e-4, stages: S })
  const ms = r.steps.slice(1).map(s => s.ms).sort((a, b) => a - b)
  const row = { preset: name, config, B, T, stages: S, steps, tokens_per_s: Math.round(r.tokensPerSecond), tflops: r.flopsPerSecond / 1e12, step_ms_median: ms[ms.length >> 1], first_step_ms: r.steps[0].ms, loss_first: r.steps[0].loss, loss_last: r.steps[r.steps.length - 1].loss }
  results.push(row)
  console.log(`${name} B=${B} T=${T} S=${S}: ${row.tokens_per_s} tokens/s, ${row.tflops.toFixed(2)} TFLOP/s, median step ${row.step_ms_median.toFixed(1)} ms (first ${row.first_step_ms.toFixed(0)} ms), loss ${row.loss_first.toFixed(3)} → ${row.loss_last.toFixed(3)}`)
}
// ---- where a step's time goes (base, one stage): each phase waited for on its own

const phases = await (async () => {
  const config: GPTConfig = { vocab: 256, d_model: 768, n_layer: 12, n_head: 12, n_ctx: 1024 }
  const B = 4; const T = 1024
  const stage = new GptStage(device, config, fullRange(config), { B, T, seed: 1 })
  const x = tokens.subarray(0, B * T); const y = tokens.subarray(1, B * T + 1)
  const sync = async (): Promise<void> => { await stage.gradSumOfSquares() } // a readback waits for the queue
  const time = async (f: () => Promise<unknown>): Promise<number> => { await sync(); const t0 = performance.now(); await f(); await sync(); return performance.now() - t0 }
  const ms = { forward: [] as number[], backward: [] as number[], step: [] as number[] }
  for (let i = 0; i < 6; i++) {
    ms.forward.push(await time(async () => await stage.forward(x, y)))
    ms.backward.push(await time(async () => await stage.backward()))
    ms.step.push(await time(async () => { stage.step({ lr: 1e-4, gradClip: 1 }); stage.zeroGrad() }))
  }
  stage.destroy()
  const median = (a: number[]): number => a.slice(1).sort((p, q) => p - q)[(a.length - 1) >> 1]
  const out = { forward_ms: median(ms.forward), backward_ms: median(ms.backward), step_ms: median(ms.step) }
  console.log(`base B=${B} T=${T} phases (medians, each including one readback): forward ${out.forward_ms.toFixed(1)} ms, backward ${out.backward_ms.toFixed(1)} ms, AdamW+clip+zero ${out.step_ms.toFixed(1)} ms`)
  return out
})()

if (values.json != null) await writeFile(values.json, JSON.stringify({ adapter: tg.summary, check, runs: results, phases }, null, 2) + '\n')
process.exit(check.ok ? 0 : 1)
