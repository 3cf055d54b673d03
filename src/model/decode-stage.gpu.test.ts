// Decoding with KV caches against the float64 model over the whole sequence: the logits at every
// position, through two stages, with rows of different lengths and a row reset for a new request.
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../gpu/device.ts'
import { compareClose, describeClose } from '../gpu/numerics.ts'
import { splitStages, type GPTConfig } from './config.ts'
import { stageForward } from './cpu/gpt.ts'
import { randomParams } from './random-params.ts'
import { GptStage } from './stage.ts'
import { DecodeStage } from './decode-stage.ts'
import { generate, generateCached, samplingStages } from '../train/sample.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })
afterAll(() => device?.destroy())

// Odd sizes: vocab 61, three heads of 16 (C = 48), 3 layers over 2 stages (the training attention needs HS a multiple of 16).
const config: GPTConfig = { vocab: 61, d_model: 48, n_layer: 3, n_head: 3, n_ctx: 24 }
const { full, flat, stages: stageParams } = randomParams(config, 2, 5)
const sequence = (seed: number, n: number): Uint32Array => Uint32Array.from({ length: n }, (_, i) => (seed * 7 + i * 13 + ((i * i) % 5)) % config.vocab)

describe('decoding through stages with KV caches', () => {
  test('every position\'s logits equal the float64 model\'s over the whole sequence; ragged rows and a reset row', async () => {
    const gpu = splitStages(config, 2).map((range, s) => new GptStage(device, config, range, { B: 1, T: 1, params: stageParams[s] }))
    const dec = gpu.map(s => new DecodeStage(device, s, { B: 2, maxT: 20 }))
    const T = 17
    const seqs = [sequence(1, T), sequence(2, T)]
    const wants = seqs.map(q => stageForward(full, Float64Array.from(flat), q, 1, T).logits!)
    const start = [0, 3] // row 1 decodes filler for 3 steps, then is reset for its own request
    for (let s = 0; s < T + start[1]; s++) {
      const tokens = new Uint32Array(2)
      for (let b = 0; b < 2; b++) {
        if (s === start[b]) for (const d of dec) d.reset(b)
        const t = s - start[b]
        tokens[b] = t >= 0 && t < T ? seqs[b][t] : 0
      }
      if (s === T) for (const d of dec) d.reset(0) // row 0 is done: free it
      let x: Uint32Array | Float32Array = tokens
      for (const d of dec) x = await d.step(x)
      for (let b = 0; b < 2; b++) {
        const t = s - start[b]
        if (t < 0 || t >= T) continue
        const r = compareClose((x as Float32Array).subarray(b * config.vocab, (b + 1) * config.vocab), wants[b].subarray(t * config.vocab, (t + 1) * config.vocab), { rtol: 1e-4, atol: 2e-5 })
        expect(r.ok, `row ${b} position ${t}: ${describeClose('logits', r)}`).toBe(true)
      }
    }
    expect(dec[0].length(1)).toBe(T)
    for (const d of dec) d.destroy()
    for (const g of gpu) g.destroy()
  })

  test('generation with the caches gives exactly the tokens of generation without them (greedy and seeded sampling)', async () => {
    const stages = samplingStages(device, config, stageParams)
    const dec = stages.map(s => new DecodeStage(device, s))
    const prompt = Uint32Array.of(3, 14, 15, 9)
    for (const opts of [{ maxNewTokens: 12, temperature: 0 }, { maxNewTokens: 12, temperature: 1, topK: 8, seed: 3 }]) {
      expect(Array.from(await generateCached(dec, prompt, opts))).toEqual(Array.from(await generate(stages, prompt, opts)))
    }
    for (const d of dec) d.destroy()
    for (const s of stages) s.destroy()
  })

  test('bounds: a full row refuses another position, maxT past n_ctx and wrong inputs are named', async () => {
    const [g0, g1] = splitStages(config, 2).map((range, s) => new GptStage(device, config, range, { B: 1, T: 1, params: stageParams[s] }))
    const d0 = new DecodeStage(device, g0, { maxT: 2 })
    await d0.step(Uint32Array.of(1))
    await d0.step(Uint32Array.of(2))
    await expect(d0.step(Uint32Array.of(3))).rejects.toThrow(/already holds 2 positions/)
    d0.reset(0)
    expect((await d0.step(Uint32Array.of(3))).length).toBe(config.d_model)
    await expect(d0.step(Uint32Array.of(config.vocab))).rejects.toThrow(/outside the vocabulary/)
    expect(() => new DecodeStage(device, g1, { maxT: config.n_ctx + 1 })).toThrow(/n_ctx/)
    await expect(new DecodeStage(device, g1).step(Uint32Array.of(1))).rejects.toThrow(/48-element Float32Array/)
    g0.destroy(); g1.destroy()
  })
})
