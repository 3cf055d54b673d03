// Training end to end on the GPU: the demo corpus through a 2-stage in-process pipeline.
import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../gpu/device.ts'
import { Pipeline } from './pipeline.ts'
import { TokenLoader, decodeTokens } from './data.ts'
import type { GPTConfig } from '../model/config.ts'

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
})
