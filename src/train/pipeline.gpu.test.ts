// Training end to end on the GPU: the demo corpus through a 2-stage in-process pipeline.
import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../gpu/device.ts'
import { Pipeline, PipelineStage, type StageLink } from './pipeline.ts'
import { StageTrainer } from './trainer.ts'
import { GptStage } from '../model/stage.ts'
import { TokenLoader, decodeTokens } from './data.ts'
import { splitStages, type GPTConfig } from '../model/config.ts'
import { stageLayout, viewOf } from '../model/params.ts'
import { initStageParams } from '../model/init.ts'
import { stageBackward, stageForward } from '../model/cpu/gpt.ts'
import { adamwStageStep, clipScale } from '../model/cpu/adamw.ts'
import { globalNorm } from '../model/cpu/gradnorm.ts'
import { compareClose, describeClose } from '../gpu/numerics.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

async function corpus (): Promise<Uint32Array> {
  const res = await fetch('/datasets/sotu-excerpt.txt') // public/ is served at the root
  expect(res.ok).toBe(true)
  return decodeTokens(new Uint8Array(await res.arrayBuffer()), 'bytes')
}

describe('Pipeline', () => {
  test('a tiny byte-level GPT learns the demo corpus: loss falls ≥ 30% below ln 256', async () => {
    const config: GPTConfig = { vocab: 256, d_model: 32, n_layer: 2, n_head: 2, n_ctx: 32 }
    const B = 4; const T = 32; const steps = 25 // SwiftShader: ~0.5 s a step, mostly per-dispatch cost
    const loader = new TokenLoader(await corpus(), { B, T, shuffle: true, seed: 1, vocab: 256 })
    const pipe = new Pipeline(device, config, loader, {
      B, T, stages: 2, seed: 1337,
      trainer: { lr: 1e-2, schedule: 'cosine', warmupSteps: 5, totalSteps: steps, weightDecay: 0.01, gradClip: 1 }
    })
    const losses: number[] = []
    const t0 = performance.now()
    for (let s = 0; s < steps; s++) losses.push((await pipe.trainStep()).loss)
    const ms = performance.now() - t0
    const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length
    const first = mean(losses.slice(0, 5)); const lastLoss = mean(losses.slice(-10))
    console.log(`learning: loss ${first.toFixed(3)} → ${lastLoss.toFixed(3)} in ${steps} steps, ${(ms / steps).toFixed(1)} ms/step, ${(steps * B * T / ms * 1000).toFixed(0)} tokens/s`)
    expect(first).toBeCloseTo(Math.log(256), 0)
    expect(lastLoss).toBeLessThan(0.7 * Math.log(256))
    pipe.destroy()
  })

  test('2 stages, 2 accumulated microbatches, global clipping: losses and weights follow the float64 recipe', async () => {
    const config: GPTConfig = { vocab: 37, d_model: 32, n_layer: 2, n_head: 2, n_ctx: 8 }
    const B = 2; const T = 8; const k = 2; const steps = 3; const S = 2
    const loader = new TokenLoader(Uint32Array.from({ length: 200 }, (_, i) => (i * i + 3 * i) % 37), { B, T })
    // eps above float32 gradient noise (see src/model/stage.gpu.test.ts), clip low enough to act.
    const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-3, weightDecay: 0.1 }
    const clip = 0.05
    const pipe = new Pipeline(device, config, loader, { B, T, stages: S, seed: 3, trainer: { ...hyper, totalSteps: steps, accumulation: k, gradClip: clip } })
    const gpu: Array<{ loss: number, gradNorm: number | null }> = []
    for (let s = 0; s < steps; s++) gpu.push(await pipe.trainStep())
    const got = await pipe.exportParams()

    // The same recipe on the float64 reference (src/model/cpu/train.test.ts).
    const layouts = splitStages(config, S).map(r => stageLayout(config, r))
    const params = layouts.map(l => Float64Array.from(initStageParams(l, 3)))
    const m = layouts.map(l => new Float64Array(l.totalElements)); const v = layouts.map(l => new Float64Array(l.totalElements))
    for (let step = 0; step < steps; step++) {
      const grads = layouts.map(l => new Float64Array(l.totalElements))
      let loss = 0
      for (let j = 0; j < k; j++) {
        const mb = loader.microbatch(step * k + j)
        const fwds = []
        let x: Uint32Array | Float64Array = mb.inputs
        for (let s = 0; s < S; s++) {
          const r = stageForward(layouts[s], params[s], x, B, T, s === S - 1 ? mb.targets : undefined)
          fwds.push(r)
          if (r.out != null) x = r.out
        }
        loss += fwds[S - 1].loss! / k
        let dout: Float64Array | undefined
        for (let s = S - 1; s >= 0; s--) dout = stageBackward(layouts[s], params[s], fwds[s], dout, grads[s]).dinput ?? undefined
      }
      const norm = globalNorm(grads) / k
      expect(Math.abs(gpu[step].loss - loss) / loss, `step ${step} loss`).toBeLessThan(1e-5)
      expect(Math.abs(gpu[step].gradNorm! - norm) / norm, `step ${step} grad norm`).toBeLessThan(1e-4)
      expect(norm).toBeGreaterThan(clip)
      for (let s = 0; s < S; s++) adamwStageStep(layouts[s], params[s], grads[s], m[s], v[s], step + 1, hyper, clipScale(norm, clip) / k)
    }
    let worst = 0
    for (let s = 0; s < S; s++) {
      for (const view of layouts[s].views) {
        const r = compareClose(viewOf(got[s], view), viewOf(params[s], view), { rtol: 1e-4, atol: 1e-6 })
        worst = Math.max(worst, r.worstRatio)
        expect(r.ok, describeClose(view.name, r)).toBe(true)
      }
    }
    console.log(`pipeline vs float64 recipe: losses ${gpu.map(r => r.loss.toFixed(5)).join(', ')}; worst weight at ${worst.toFixed(3)} of the tolerance`)
    pipe.destroy()
  })

  test('per-stage clipping (independent replicas, autoStep) equals global clipping on one stage', async () => {
    const config: GPTConfig = { vocab: 37, d_model: 32, n_layer: 2, n_head: 2, n_ctx: 8 }
    const B = 2; const T = 8
    const loader = new TokenLoader(Uint32Array.from({ length: 200 }, (_, i) => (i * i + 3 * i) % 37), { B, T })
    const trainer = { lr: 1e-2, eps: 1e-3, weightDecay: 0.1, totalSteps: 3, accumulation: 2, gradClip: 0.05 }
    const results: Float32Array[] = []
    for (const clip of ['global', 'stage'] as const) {
      const pipe = new Pipeline(device, config, loader, { B, T, seed: 4, clip, trainer })
      for (let s = 0; s < 3; s++) {
        const r = await pipe.trainStep()
        expect(r.gradNorm == null).toBe(clip === 'stage')
      }
      expect(pipe.step).toBe(3)
      results.push((await pipe.exportParams())[0])
      pipe.destroy()
    }
    const r = compareClose(results[1], results[0], { rtol: 1e-4, atol: 1e-6 })
    expect(r.ok, describeClose('weights', r)).toBe(true)
  })

  test('stages over a byte-copying link: two microbatches in flight with 2 slots, refused with 1', async () => {
    const config: GPTConfig = { vocab: 37, d_model: 32, n_layer: 2, n_head: 2, n_ctx: 8 }
    const B = 2; const T = 8
    const loader = new TokenLoader(Uint32Array.from({ length: 200 }, (_, i) => (i * 5 + 1) % 37), { B, T })
    const build = (slots: number): { nodes: PipelineStage[], bytes: { value: number } } => {
      const nodes = splitStages(config, 2).map(r => new PipelineStage(new StageTrainer(new GptStage(device, config, r, { B, T, seed: 8, slots }), { lr: 1e-3, totalSteps: 1, autoStep: false }), loader))
      const bytes = { value: 0 }
      // What a network does: the tensor becomes bytes and a new array on the other side.
      const wire = (x: Float32Array): Float32Array => { bytes.value += x.byteLength; return new Float32Array(new Uint8Array(x.buffer, x.byteOffset, x.byteLength).slice().buffer) }
      const link = (to: PipelineStage): StageLink => ({
        sendActivations: async (mb, x) => { await to.onActivations(mb, wire(x)) },
        sendGradients: async (mb, dx) => { await to.onGradients(mb, wire(dx)) }
      })
      nodes[0].next = link(nodes[1]); nodes[1].prev = link(nodes[0])
      return { nodes, bytes }
    }
    const seq = build(1)
    for (const mb of [0, 1]) await seq.nodes[0].start(mb)
    const par = build(2)
    await Promise.all([0, 1].map(async mb => { await par.nodes[0].start(mb) }))
    for (const mb of [0, 1]) expect(par.nodes[1].losses.get(mb)).toBe(seq.nodes[1].losses.get(mb))
    expect(par.bytes.value).toBe(2 * 2 * B * T * config.d_model * 4) // activations and gradients, per microbatch
    for (const n of [...par.nodes, ...seq.nodes]) expect(n.inFlight).toBe(0)
    for (let s = 0; s < 2; s++) {
      const r = compareClose(await par.nodes[s].stage.exportGrads(), await seq.nodes[s].stage.exportGrads(), { rtol: 1e-4, atol: 1e-7 })
      expect(r.ok, describeClose(`stage ${s} grads`, r)).toBe(true)
    }
    // One slot: the second microbatch can't enter stage 0 until the first is back.
    const one = build(1)
    const results = await Promise.allSettled([0, 1].map(async mb => { await one.nodes[0].start(mb) }))
    expect(results[0].status).toBe('fulfilled')
    expect(results[1].status === 'rejected' ? (results[1].reason as Error).name : 'fulfilled').toBe('TrainError')
    for (const n of [...par.nodes, ...seq.nodes, ...one.nodes]) n.stage.destroy()
  })
})
