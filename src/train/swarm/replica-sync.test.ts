import { describe, expect, it } from 'vitest'
import { ReplicaSync, type SyncWeights } from './replica-sync.ts'
import { StageCompute } from './stage-compute.ts'
import { systemClock } from './clock.ts'
import { recordingKernels } from './test-fakes.ts'

/** Two replicas of one stage, fetching each other's snapshots in memory. */
function pair (outer = { lr: 1, momentum: 0 }) {
  const syncs = new Map<string, ReplicaSync>()
  const make = (me: string, params: number[]) => {
    const k = recordingKernels()
    let p = Float32Array.from(params)
    const kernels = { ...k, exportParams: async () => p.slice(), importParams: async (x: Float32Array) => { p = x.slice() } }
    const c = new StageCompute({ kernels, slots: 1, clock: systemClock })
    const s = new ReplicaSync({
      me, every: 2, outer, clock: systemClock, exclusive: c.exclusive.bind(c), peers: () => ['a', 'b'], timeoutMs: 50, maxWeight: 16,
      fetch: async (peer, step): Promise<SyncWeights> => { const w = await syncs.get(peer)!.snapshot(step); if (w == null) throw new Error('none'); return w },
      digest: async x => Array.from(x).join(',')
    })
    syncs.set(me, s)
    return { s, params: () => p }
  }
  return { a: make('a', [0, 0]), b: make('b', [4, 8]) }
}

describe('ReplicaSync', () => {
  it('averages replicas weighted by the microbatches each learned from, to identical weights', async () => {
    const { a, b } = pair()
    await a.s.start(new Float32Array([0, 0]), 0)
    await b.s.start(new Float32Array([4, 8]), 0)
    expect(a.s.onStepped(1, 1)).toBeUndefined() // not a sync step
    b.s.onStepped(1, 3)
    await Promise.all([a.s.onStepped(2, 0), b.s.onStepped(2, 0)])
    // a learned from 1 microbatch, b from 3: (0·1 + 4·3)/4 = 3, (0 + 24)/4 = 6
    expect(Array.from(a.params())).toEqual([3, 6])
    expect(Array.from(b.params())).toEqual([3, 6])
    expect(a.s.weights).toEqual({ step: 2, digest: '3,6' })
  })

  it('a replica whose peer never answers keeps its own weights and says so', async () => {
    const { a } = pair()
    await a.s.start(new Float32Array([0, 0]), 0)
    const r = await a.s.sync(2) // b never reaches step 2: its snapshot times out
    expect(r.averagedWith).toBe(0)
    expect(Array.from(a.params())).toEqual([0, 0])
  }, 5000)
})
