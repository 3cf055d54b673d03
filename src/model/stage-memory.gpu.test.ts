// The memory plan (memory.ts, shown in the new-campaign form and the preflight) against what a
// GptStage really allocates: every createBuffer from construction through one training step.
import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../gpu/device.ts'
import { GptStage } from './stage.ts'
import { splitStages, type GPTConfig } from './config.ts'
import { stageMemory } from './memory.ts'

// Big enough that the weights, activations and logits dominate kernel uniforms, small enough for SwiftShader.
const config: GPTConfig = { vocab: 1021, d_model: 64, n_layer: 3, n_head: 2, n_ctx: 32 }
const B = 2; const T = 32

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

/** Bytes of every buffer created while f runs. */
async function allocated (f: () => Promise<void>): Promise<number> {
  const original = device.createBuffer.bind(device)
  let bytes = 0
  device.createBuffer = (d: GPUBufferDescriptor) => { bytes += d.size; return original(d) }
  try { await f() } finally { device.createBuffer = original }
  return bytes
}

describe('stage memory plan', () => {
  const ranges = splitStages(config, 3)
  test.each([['embedding stage', 0], ['middle stage', 1], ['head stage', 2]] as const)('matches the %s\'s buffers within 5%%', async (_, s) => {
    const range = ranges[s]
    let stage: GptStage | null = null
    const bytes = await allocated(async () => {
      stage = new GptStage(device, config, range, { B, T, seed: 1 })
      const first = s === 0; const last = s === ranges.length - 1
      const input = first ? Uint32Array.from({ length: B * T }, (_, i) => (i * 13) % config.vocab) : new Float32Array(B * T * config.d_model).fill(0.01)
      const targets = last ? Uint32Array.from({ length: B * T }, (_, i) => (i * 7) % config.vocab) : undefined
      await stage.forward(input, targets)
      await stage.backward(last ? undefined : new Float32Array(B * T * config.d_model).fill(0.001))
      stage.step({ lr: 1e-3 })
      await stage.gradSumOfSquares()
    })
    const plan = stageMemory(config, range, B, T).total
    ;(stage as GptStage | null)?.destroy()
    const ratio = bytes / plan
    expect(ratio, `allocated ${bytes} bytes, the plan says ${plan}`).toBeGreaterThan(0.95)
    expect(ratio, `allocated ${bytes} bytes, the plan says ${plan}`).toBeLessThan(1.05)
  })
})
