import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../gpu/device.ts'
import { generate, nextTokenLogits, samplingStages } from './sample.ts'
import type { GPTConfig } from '../model/config.ts'
import { randomParams } from '../model/random-params.ts'
import { stageForward } from '../model/cpu/gpt.ts'
import { argmax } from '../model/cpu/sample.ts'
import { compareClose, describeClose } from '../gpu/numerics.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

describe('generate', () => {
  test('greedy tokens from a 2-stage GPU model equal the float64 reference\'s', async () => {
    const config: GPTConfig = { vocab: 23, d_model: 32, n_layer: 2, n_head: 2, n_ctx: 8 }
    const { full, flat, stages: params } = randomParams(config, 2, 9)
    const stages = samplingStages(device, config, params)
    const prompt = Uint32Array.of(3, 1, 4)
    // The reference on the same (sliding, at most n_ctx) window, unpadded.
    const p64 = Float64Array.from(flat)
    const want = Array.from(prompt)
    for (let i = 0; i < 7; i++) {
      const ctx = Uint32Array.from(want.slice(-config.n_ctx))
      const logits = stageForward(full, p64, ctx, 1, ctx.length).logits!
      if (i === 0) {
        const got = await nextTokenLogits(stages, ctx)
        const r = compareClose(got, logits.subarray((ctx.length - 1) * config.vocab), { rtol: 1e-4, atol: 1e-5 })
        expect(r.ok, describeClose('logits', r)).toBe(true)
      }
      want.push(argmax(logits.subarray((ctx.length - 1) * config.vocab)))
    }
    const got = await generate(stages, prompt, { maxNewTokens: 7, temperature: 0 })
    expect(Array.from(got)).toEqual(want)
    const sampled = await generate(stages, prompt, { maxNewTokens: 4, temperature: 1, seed: 2 })
    expect(sampled).toEqual(await generate(stages, prompt, { maxNewTokens: 4, temperature: 1, seed: 2 }))
    for (const s of stages) s.destroy()
  })
})
