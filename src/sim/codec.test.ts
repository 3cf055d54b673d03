// The real runtime with a q8 campaign: stage flows encode what they send, sign the encoded bytes'
// digest, and receivers (which check each hop receipt against the digest of what arrived) take
// every microbatch; links carry the q8 size.
import { describe, expect, it } from 'vitest'
import { simulate } from './world.ts'

describe('simulator with the q8 codec', () => {
  it('trains on a 2-stage swarm with nothing lost, at the q8 bytes per token per boundary', async () => {
    const base = { peers: 4, stages: 2, hours: 0.05, churn: 0, seed: 1, restartAt: null, config: { vocab: 256, d_model: 64, n_layer: 2, n_head: 4, n_ctx: 64 }, B: 4, T: 64, speedMedian: 1e9, speedSigma: 0.3, activationBudget: 2 ** 30, accumulation: 4 }
    const q8 = await simulate({ ...base, codec: 'q8' })
    expect(q8.losses.length).toBeGreaterThan(3)
    expect(q8.losses.filter(l => l.microbatches !== 4)).toEqual([])
    expect(q8.microbatches.lost).toBe(0)
    // Activations forward and gradients back: 2·(C + 4) bytes per token (a little more: tensors still in flight at the end).
    expect(q8.bytes_per_token_per_boundary).toBeGreaterThanOrEqual(2 * (64 + 4))
    expect(q8.bytes_per_token_per_boundary).toBeLessThan(1.02 * 2 * (64 + 4))
    const fp32 = await simulate(base)
    expect(fp32.bytes_per_token_per_boundary / q8.bytes_per_token_per_boundary).toBeGreaterThan(3.6)
  }, 60_000)
})
