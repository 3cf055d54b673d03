// The simulator end to end on a small swarm: the real coordinator and runtimes, a tracker
// restart, churn; nothing lost, and the same seed replays the same run.
import { describe, expect, it } from 'vitest'
import { simulate, type SimInit } from './world.ts'

const small: SimInit = {
  peers: 8, stages: 2, hours: 0.25, churn: 1, seed: 7,
  config: { vocab: 256, d_model: 64, n_layer: 2, n_head: 4, n_ctx: 64 }, B: 4, T: 64,
  speedMedian: 1e9, speedSigma: 0.5, activationBudget: 2 ** 30, accumulation: 8
}

describe('simulate', () => {
  it('trains through churn and a tracker restart without losing a microbatch, and replays from its seed', async () => {
    const a = await simulate(small)
    expect(a.tracker.restarts).toBe(1)
    expect(a.volunteers.left + a.volunteers.crashed).toBeGreaterThan(0)
    expect(a.microbatches.completed).toBeGreaterThan(50)
    expect(a.microbatches.lost).toBe(0)
    expect(a.steps).toBeGreaterThan(5)
    expect(a.utilization).toBeGreaterThan(0)
    expect(a.bytes_per_token_per_boundary).toBeGreaterThanOrEqual(2 * 4 * 64) // fp32 activations on, gradients back
    const b = await simulate(small)
    expect(b.microbatches).toEqual(a.microbatches)
    expect(b.events).toBe(a.events)
  }, 60_000)
})
