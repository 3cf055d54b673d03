// The GPU stage against the float64 reference (src/model/cpu/gpt.ts), and S-stage pipelines
// against the unsplit model, with tensors crossing stages only as Float32Arrays.
import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../gpu/device.ts'
import { compareClose, describeClose } from '../gpu/numerics.ts'
import { GptStage, createTunedStage, stageMatmuls } from './stage.ts'
import { TILE_CONFIGS, configName } from '../gpu/kernels/matmul.ts'
import { MatmulTuner, memoryTuneStore } from '../gpu/autotune.ts'
import { stageBackward, stageForward } from './cpu/gpt.ts'
import { fullRange, splitStages, type GPTConfig } from './config.ts'
import { stageLayout, viewOf, type StageLayout } from './params.ts'
import { createRng, fillNormal } from './rng.ts'
import { adamwStageStep, clipScale } from './cpu/adamw.ts'
import { globalNorm } from './cpu/gradnorm.ts'
import { DispatchList } from '../gpu/dispatch-list.ts'

// Odd sizes (V, T, B·T) catch index mix-ups; HS = 16 is the smallest head size the flash
// attention block configs take (HS/4 vec4s split over 4 threads per row); L = 3 allows S = 3.
const config: GPTConfig = { vocab: 37, d_model: 48, n_layer: 3, n_head: 3, n_ctx: 9 }
const B = 2; const T = 7
const tokens = Uint32Array.from({ length: B * T }, (_, i) => (i * 11 + 5) % 37)
const targets = Uint32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % 37)

// float32 arithmetic against float64: 1e-4 relative, with an absolute floor of 1e-4 of the
// tensor's largest magnitude (entries near zero carry rounding of their bigger neighbours).
const RTOL = 1e-4
const FLOOR = 1e-4

let device: GPUDevice
let tg: Awaited<ReturnType<typeof requestTabgradDevice>>
beforeAll(async () => { tg = await requestTabgradDevice(); device = tg.device })

/** Runs f and fails on any WebGPU validation error it caused. */
async function checked<R> (label: string, f: () => Promise<R>): Promise<R> {
  device.pushErrorScope('validation')
  const r = await f()
  const err = await device.popErrorScope()
  if (err != null) throw new Error(`${label}: ${err.message}`)
  return r
}

/** float32-representable random params big enough that every gradient is far from zero. */
function randomParams (layout: StageLayout, seed: number): Float32Array {
  const flat = new Float64Array(layout.totalElements)
  const rng = createRng(seed)
  for (const v of layout.views) {
    const t = viewOf(flat, v)
    fillNormal(t, rng, 0.2)
    if (v.init === 'ones') for (let i = 0; i < t.length; i++) t[i] += 1
  }
  return Float32Array.from(flat)
}

/** The tensors of `to`, copied by checkpoint name out of a flat buffer of layout `from`. */
function extract (from: StageLayout, flat: Float32Array, to: StageLayout): Float32Array {
  const out = new Float32Array(to.totalElements)
  for (const v of to.views) viewOf(out, v).set(viewOf(flat, from.byName.get(v.name)!))
  return out
}

function expectTensorClose (name: string, got: ArrayLike<number>, want: ArrayLike<number>, worst: { ratio: number, name: string }): void {
  let max = 0
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i]))
  const r = compareClose(got, want, { rtol: RTOL, atol: FLOOR * max + 1e-30 })
  if (r.worstRatio > worst.ratio) { worst.ratio = r.worstRatio; worst.name = name }
  expect(r.ok, describeClose(name, r)).toBe(true)
}

/** Forward and backward of one microbatch through S GPU stages; only Float32Arrays cross between them. */
async function runPipeline (stages: GptStage[]): Promise<{ loss: number, grads: Float32Array[] }> {
  let x: Uint32Array | Float32Array = tokens
  for (const s of stages) {
    s.zeroGrad()
    const out = await s.forward(x, s.isLast ? targets : undefined)
    if (out != null) x = out
  }
  const loss = await stages[stages.length - 1].loss()
  let d: Float32Array | undefined
  for (let i = stages.length - 1; i >= 0; i--) d = (await stages[i].backward(d)) ?? undefined
  return { loss, grads: await Promise.all(stages.map(async s => await s.exportGrads())) }
}

describe('GptStage', () => {
  const full = stageLayout(config, fullRange(config))
  const params = randomParams(full, 7)

  test('loss and every parameter gradient match the float64 reference', async () => {
    const stage = new GptStage(device, config, fullRange(config), { B, T, params })
    const { loss, grads } = await checked('full model', async () => await runPipeline([stage]))
    const p64 = Float64Array.from(params)
    const fwd = stageForward(full, p64, tokens, B, T, targets)
    const ref = stageBackward(full, p64, fwd).grads
    expect(Math.abs(loss - fwd.loss!) / fwd.loss!, `loss ${loss} vs ${fwd.loss!}`).toBeLessThan(1e-5)
    const worst = { ratio: 0, name: '' }
    for (const v of full.views) expectTensorClose(v.name, viewOf(grads[0], v), viewOf(ref, v), worst)
    console.log(`GPU vs float64: loss ${loss} vs ${fwd.loss!}; worst gradient ${worst.name} at ${worst.ratio.toFixed(3)} of the tolerance`)
    stage.destroy()
  })

  test('stage outputs and d(input) of a middle stage match the reference', async () => {
    const [r0, r1] = [{ first: 0, last: 1 }, { first: 1, last: 2 }]
    const l0 = stageLayout(config, r0); const l1 = stageLayout(config, r1)
    const s0 = new GptStage(device, config, r0, { B, T, params: extract(full, params, l0) })
    const s1 = new GptStage(device, config, r1, { B, T, params: extract(full, params, l1) })
    const dout = Float32Array.from({ length: B * T * config.d_model }, (_, i) => Math.sin(i * 0.37) * 0.1)
    const { x0, x1, dx } = await checked('middle stage', async () => {
      const x0 = (await s0.forward(tokens))!
      const x1 = (await s1.forward(x0))!
      const dx = (await s1.backward(dout))!
      return { x0, x1, dx }
    })
    const f0 = stageForward(l0, Float64Array.from(extract(full, params, l0)), tokens, B, T)
    const p1 = Float64Array.from(extract(full, params, l1))
    const f1 = stageForward(l1, p1, Float64Array.from(x0), B, T)
    const b1 = stageBackward(l1, p1, f1, Float64Array.from(dout))
    const worst = { ratio: 0, name: '' }
    expectTensorClose('stage 0 output', x0, f0.out!, worst)
    expectTensorClose('stage 1 output', x1, f1.out!, worst)
    expectTensorClose('stage 1 d(input)', dx, b1.dinput!, worst)
    const g1 = await s1.exportGrads()
    for (const v of l1.views) expectTensorClose(v.name, viewOf(g1, v), viewOf(b1.grads, v), worst)
    s0.destroy(); s1.destroy()
  })

  test('S = 1, 2, 3 stage pipelines give the loss and gradients of the unsplit model', async () => {
    let reference: { loss: number, grads: Map<string, Float32Array> } | undefined
    for (const S of [1, 2, 3]) {
      const ranges = splitStages(config, S)
      const layouts = ranges.map(r => stageLayout(config, r))
      const stages = ranges.map((r, i) => new GptStage(device, config, r, { B, T, params: extract(full, params, layouts[i]) }))
      const { loss, grads } = await checked(`S=${S}`, async () => await runPipeline(stages))
      const byName = new Map<string, Float32Array>()
      layouts.forEach((l, i) => { for (const v of l.views) byName.set(v.name, viewOf(grads[i], v)) })
      expect(byName.size).toBe(full.views.length)
      if (reference == null) {
        reference = { loss, grads: byName }
      } else {
        let worst = 0
        expect(loss).toBe(reference.loss)
        for (const [name, g] of byName) {
          const want = reference.grads.get(name)!
          for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - want[i]))
        }
        console.log(`S=${S}: loss ${loss}, worst |gradient difference| vs unsplit ${worst}`)
        expect(worst).toBe(0) // same kernels, same order: splitting changes nothing, bit for bit
      }
      for (const s of stages) s.destroy()
    }
  })

  test('two AdamW steps with clipping and gradient scaling match the reference update', async () => {
    const stage = new GptStage(device, config, fullRange(config), { B, T, params })
    // eps well above float32 gradient noise: with 1e-8, Adam's g/|g| turns the rounding of
    // near-zero gradients (the key bias's is exactly zero) into ±lr steps that no tolerance fits.
    const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-3, weightDecay: 0.1 }
    const p64 = Float64Array.from(params)
    const m = new Float64Array(full.totalElements); const v = new Float64Array(full.totalElements)
    for (let step = 1; step <= 2; step++) {
      // Two microbatches accumulated (the same one twice), averaged by gradScale ½, clipped to 0.1.
      await checked(`step ${step}`, async () => {
        stage.zeroGrad()
        for (let k = 0; k < 2; k++) { await stage.forward(tokens); await stage.forward(tokens, targets); await stage.backward() }
        stage.step({ ...hyper, gradClip: 0.1, gradScale: 0.5 })
      })
      const fwd = stageForward(full, p64, tokens, B, T, targets)
      const g = stageBackward(full, p64, fwd).grads
      const sumsq = await stage.gradSumOfSquares()
      expect(Math.abs(Math.sqrt(sumsq) - 2 * globalNorm([g])) / (2 * globalNorm([g]))).toBeLessThan(1e-4)
      expect(globalNorm([g])).toBeGreaterThan(0.1) // clipping is exercised
      adamwStageStep(full, p64, g, m, v, step, hyper, clipScale(globalNorm([g]), 0.1))
    }
    expect(stage.stepCount).toBe(2)
    const got = await stage.exportParams()
    const worst = { ratio: 0, name: '' }
    for (const view of full.views) expectTensorClose(view.name, viewOf(got, view), viewOf(p64, view), worst)
    console.log(`AdamW after 2 steps: worst ${worst.name} at ${worst.ratio.toFixed(3)} of the tolerance`)
    const state = await stage.exportAdamState()
    expect(state.step).toBe(2)
    const worstM = compareClose(state.m, m, { rtol: 1e-3, atol: 1e-6 })
    expect(worstM.ok, describeClose('adam m', worstM)).toBe(true)
    stage.destroy()
  })

  test('trainStep (one submit, readbacks deferred, clipping on the GPU) matches forward/backward/step bit for bit', async () => {
    const hyper = { lr: 1e-2, eps: 1e-3, weightDecay: 0.1, gradClip: 0.1 }
    const other = tokens.map(t => (t * 5 + 1) % 37)
    const batches: Array<[Uint32Array, Uint32Array]> = [[tokens, targets], [other, tokens]]
    // The three-call path, one microbatch per step.
    const plain = new GptStage(device, config, fullRange(config), { B, T, params })
    const want: Array<{ loss: number, gradNorm: number }> = []
    for (const [inp, tgt] of batches) {
      plain.zeroGrad()
      await plain.forward(inp, tgt)
      await plain.backward()
      want.push({ loss: await plain.loss(), gradNorm: Math.sqrt(await plain.gradSumOfSquares()) })
      plain.step(hyper)
    }
    // trainStep: both steps submitted before either's numbers are awaited.
    const fused = new GptStage(device, config, fullRange(config), { B, T, params })
    const queue = device.queue
    const submit = queue.submit.bind(queue)
    let submits = 0
    queue.submit = (buffers: Iterable<GPUCommandBuffer>) => { submits++; submit(buffers) }
    let got: Array<{ loss: number, gradNorm: number }>
    try {
      got = await checked('trainStep', async () => {
        const pending = batches.map(([inp, tgt]) => fused.trainStep(inp, tgt, hyper))
        expect(submits).toBe(2)
        return await Promise.all(pending)
      })
    } finally { queue.submit = submit }
    for (let i = 0; i < 2; i++) {
      expect(got[i].loss).toBe(want[i].loss)
      expect(Math.abs(got[i].gradNorm - want[i].gradNorm) / want[i].gradNorm).toBeLessThan(1e-6)
    }
    expect(await fused.loss()).toBe(want[1].loss)
    expect(await fused.exportParams()).toEqual(await plain.exportParams())
    expect((await fused.exportGrads()).every(g => g === 0)).toBe(true) // zeroed for the next step
    const { forward, backward, optimizer } = fused.trainStepDispatches()
    console.log(`dispatches per step (L=${config.n_layer}): ${forward.length} forward + ${backward.length} backward + ${optimizer.length} optimizer; ${JSON.stringify(Object.fromEntries(DispatchList.concat(forward, backward, optimizer).families()))}`)
    expect(optimizer.length).toBe(3) // grad norm (2) + AdamW (1)
    // Per layer 7 forward (LayerNorm+residual fused, GELU in the fc matmul) and 19 backward
    // (bias and LayerNorm parameter gradients in one pass each at these row counts).
    const L = config.n_layer
    expect(forward.length).toBe(1 + 7 * L + 3) // embedding, layers, lnf + logits + cross-entropy
    expect(backward.length).toBe(4 + 19 * L + 2) // head (dlnf, dlmhead, lnf backward), layers, embedding
    plain.destroy(); fused.destroy()
  })

  test('two microbatches in flight in separate slots give the gradients of running them one by one', async () => {
    const r0 = { first: 0, last: 2 }; const r1 = { first: 2, last: 3 }
    const other = tokens.map(t => (t * 5 + 1) % 37)
    const mk = (slots: number): GptStage[] => [r0, r1].map(r => new GptStage(device, config, r, { B, T, slots, params: extract(full, params, stageLayout(config, r)) }))
    // One slot: A fully, then B.
    const [a0, a1] = mk(1)
    const lossesSeq: number[] = []
    await checked('one slot', async () => {
      for (const [inp, tgt] of [[tokens, targets], [other, tokens]]) {
        await a1.forward((await a0.forward(inp))!, tgt)
        const dx = await a1.backward()
        lossesSeq.push(await a1.loss())
        await a0.backward(dx!)
      }
    })
    // Two slots: both forwards, then backwards in the other order.
    const [b0, b1] = mk(2)
    const lossesPar = await checked('two slots', async () => {
      await b1.forward((await b0.forward(tokens, undefined, 0))!, targets, 0)
      await b1.forward((await b0.forward(other, undefined, 1))!, tokens, 1)
      const dxB = await b1.backward(undefined, 1)
      const dxA = await b1.backward(undefined, 0)
      await b0.backward(dxB!, 1)
      await b0.backward(dxA!, 0)
      return [await b1.loss(0), await b1.loss(1)]
    })
    expect(lossesPar).toEqual(lossesSeq)
    const worst = { ratio: 0, name: '' }
    for (const [x, y] of [[a0, b0], [a1, b1]]) {
      const gx = await x.exportGrads(); const gy = await y.exportGrads()
      for (const v of x.layout.views) expectTensorClose(v.name, viewOf(gy, v), viewOf(gx, v), worst)
    }
    for (const st of [a0, a1, b0, b1]) st.destroy()
  })

  test('other matmul tiles (createTunedStage) and attention blocks change no gradient beyond float rounding', async () => {
    // A tuner whose store already holds a 32×32 tile for every class: no timing on SwiftShader.
    const small = configName(TILE_CONFIGS[5])
    const store = memoryTuneStore()
    const tuner = new MatmulTuner(tg, { store })
    const r = fullRange(config)
    for (const p of stageMatmuls(config, r, B, T)) await store.set(tuner.key(p), small)
    const block = { br: 8, bc: 16, tpr: 4 } // not the default attention blocks either
    const tuned = await createTunedStage(device, tuner, config, r, { B, T, params, attention: { forward: block, backward: block } })
    const plain = new GptStage(device, config, r, { B, T, params })
    const [a, b] = [await checked('tuned', async () => await runPipeline([tuned])), await runPipeline([plain])]
    expect(Math.abs(a.loss - b.loss)).toBeLessThan(1e-5)
    const worst = { ratio: 0, name: '' }
    for (const v of full.views) expectTensorClose(v.name, viewOf(a.grads[0], v), viewOf(b.grads[0], v), worst)
    tuned.destroy(); plain.destroy()
  })

  test('activations past the adapter\'s buffer limit are refused with LimitError before allocating', () => {
    const big: GPTConfig = { vocab: 256, d_model: 1024, n_layer: 1, n_head: 16, n_ctx: 4096 }
    let err: unknown
    try { new GptStage(device, big, fullRange(big), { B: 64, T: 4096 }).destroy() } catch (e) { err = e }
    expect((err as Error)?.name).toBe('LimitError')
  })
})
