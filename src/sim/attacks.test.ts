// A hostile peer inside a simulated swarm of real runtimes: it joins stage 0 the honest way (so
// the tracker lists it), then sends stage 1 NaN activations, step bombs and wrong shapes, sends
// stage 0 unsolicited gradients, serves its stage NaN weights with a sync weight of 1e30, and
// fetches another stage's weights. Every attack is refused, it is reported, and training goes on.
import { describe, expect, it } from 'vitest'
import { simulate, type SimInit } from './world.ts'
import { simSigner, type SimEndpoint } from './network.ts'
import type { SwarmRuntime } from '../train/swarm/runtime.ts'
import type { OutboundTensor } from '../train/swarm/transport.ts'

const EVIL = 'evil'

describe('a hostile peer in the swarm', () => {
  it('gets every attack refused and reported while honest training goes on', async () => {
    const outcomes = { attempts: 0, taken: 0, refusals: new Set<string>(), outsiderWeights: 'none' }
    const runtimes: Array<{ stage: number, runtime: SwarmRuntime }> = []
    let tracker!: Parameters<NonNullable<SimInit['onWorld']>>[0]['tracker']
    const init: SimInit = {
      peers: 8, stages: 2, hours: 0.1, churn: 0, seed: 11, restartAt: null,
      config: { vocab: 256, d_model: 64, n_layer: 2, n_head: 4, n_ctx: 64 }, B: 4, T: 64,
      speedMedian: 1e9, speedSigma: 0.3, activationBudget: 2 ** 30, accumulation: 4, syncEvery: 2,
      onRuntime: p => { runtimes.push({ stage: p.stage!, runtime: p.runtime! }) },
      onWorld: w => {
        tracker = w.tracker
        const endpoint: SimEndpoint = {
          id: EVIL, link: { mbps: 100, rttMs: 20 }, alive: true, upFreeAt: 0, weightBytes: 16, bytesSent: 0,
          accept: () => { throw Object.assign(new Error('evil takes nothing'), { name: 'NotReadyError' }) },
          // Its "snapshot" for every sync: poison, claiming to outweigh everyone.
          provideWeights: async step => ({ step: step === 'latest' ? 0 : step, params: new Float32Array([NaN, 1e30, -Infinity, 0]), weight: 1e30 })
        }
        w.net.add(endpoint)
        const transport = w.net.transportFor(EVIL, simSigner(EVIL))
        const client = w.tracker.clientFor(EVIL, 20, () => true)
        const attack = async (to: string, t: OutboundTensor): Promise<void> => {
          outcomes.attempts++
          try {
            await transport.send(to, t)
            outcomes.taken++
          } catch (err) {
            outcomes.refusals.add((err as Error).name)
          }
        }
        const loop = async (): Promise<void> => {
          await client.join({ stage: 0, throughput: 1e9 })
          for (let round = 0; round < 100; round++) {
            await client.heartbeat({}) // stays listed, as a ready stage-0 replica
            const step = w.tracker.coord.step
            // Each victim gets a different attack first (the first violation bans the attacker).
            const attacks: OutboundTensor[] = [
              { microbatch: 1e6 + round, kind: 'activations', optimizerStep: step, data: new Float32Array([NaN]), meta: {} },
              { microbatch: 2e6 + round, kind: 'activations', optimizerStep: step + 1e6, data: new Float32Array([1]), meta: {} },
              { microbatch: 3e6 + round, kind: 'activations', optimizerStep: step, data: new Float32Array([1, 2]), meta: {} }
            ]
            for (const [i, to] of w.tracker.coord.replicas(1).entries()) await attack(to, attacks[(i + round) % 3])
            for (const to of w.tracker.coord.replicas(0).filter(p => p !== EVIL)) {
              await attack(to, { microbatch: round, kind: 'gradients', optimizerStep: step, data: new Float32Array([1]), meta: {} })
            }
            if (round === 5) {
              const victim = w.tracker.coord.replicas(1)[0]
              outcomes.outsiderWeights = victim == null ? 'no victim' : await transport.fetchWeights(victim, 'latest', 4, 60_000).then(() => 'served', (err: Error) => err.name)
            }
            await w.clock.sleep(3_000)
          }
        }
        w.clock.after(90_000, () => { void loop() })
      }
    }
    const r = await simulate(init)
    // Every attack refused.
    expect(outcomes.attempts).toBeGreaterThan(100)
    expect(outcomes.taken).toBe(0)
    // (UnlistedPeerError: before the victims' heartbeats listed it.)
    for (const name of ['NonFiniteError', 'StepBombError', 'ShapeError', 'UnsolicitedError', 'BannedPeerError']) expect(outcomes.refusals).toContain(name)
    for (const name of outcomes.refusals) expect(['NonFiniteError', 'StepBombError', 'ShapeError', 'UnsolicitedError', 'BannedPeerError', 'UnlistedPeerError']).toContain(name)
    expect(outcomes.outsiderWeights).toBe('WeightsUnavailableError')
    // Reported by the stage-1 tabs it attacked and the stage-0 replicas it tried to poison at a sync.
    const reporters = tracker.reports.get(EVIL)?.reporters ?? new Set()
    const honest = runtimes.filter(x => x.runtime.gate.isBanned(EVIL))
    expect(reporters.size).toBeGreaterThanOrEqual(2)
    expect(honest.map(x => x.stage)).toContain(0)
    expect(honest.map(x => x.stage)).toContain(1)
    // No step bomb took: every replica is at most one step past the tracker.
    for (const x of runtimes) expect(x.runtime.steps.applied).toBeLessThanOrEqual(tracker.coord.step + 1)
    // Honest training went on.
    expect(r.microbatches.completed).toBeGreaterThan(40)
    expect(r.microbatches.lost).toBe(0)
    expect(r.steps).toBeGreaterThan(10)
  }, 60_000)
})
