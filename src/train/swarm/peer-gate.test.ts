import { describe, expect, it } from 'vitest'
import { checkedContribution, firstNonFinite, PeerGate, shapeProblem, STEP_BOMB_MARGIN, stepVerdict, type GateView } from './peer-gate.ts'
import { ReplicaSync, type SyncWeights } from './replica-sync.ts'
import { StageCompute } from './stage-compute.ts'
import { systemClock } from './clock.ts'
import { recordingKernels } from './test-fakes.ts'
import type { InboundTensor } from './transport.ts'

describe('peer gate checks', () => {
  it('finds NaN and ±Inf in one pass, and nothing in finite data', () => {
    expect(firstNonFinite(new Float32Array([0, -0, 3.4e38, -3.4e38, 1e-45]))).toBe(-1)
    expect(firstNonFinite(new Float32Array(0))).toBe(-1)
    expect(firstNonFinite(new Float32Array([1, 2, NaN, Infinity]))).toBe(2)
    expect(firstNonFinite(new Float32Array([1, -Infinity]))).toBe(1)
    const big = new Float32Array(1 << 20)
    big[big.length - 1] = Infinity
    expect(firstNonFinite(big)).toBe(big.length - 1)
  })

  it('checks the declared shape and the length against the stage\'s (B, T, C)', () => {
    expect(shapeProblem([2, 3, 4], 24, [2, 3, 4])).toBeNull()
    expect(shapeProblem(undefined, 24, [2, 3, 4])).toBeNull()
    expect(shapeProblem([4, 3, 2], 24, [2, 3, 4])).toMatch(/shape/)
    expect(shapeProblem([24], 24, [2, 3, 4])).toMatch(/shape/)
    expect(shapeProblem(undefined, 23, [2, 3, 4])).toMatch(/23 elements/)
  })

  it('judges a sender\'s step by the tracker\'s word: lag within lookahead, one ahead, a few ahead, a bomb', () => {
    const at = { applied: 10, tracker: 10, lookahead: 1, kind: 'activations' as const }
    expect(stepVerdict(10, at)).toBe('ok')
    expect(stepVerdict(11, at)).toBe('ok')
    expect(stepVerdict(9, at)).toBe('ok')
    expect(stepVerdict(8, at)).toBe('stale')
    expect(stepVerdict(8, { ...at, kind: 'gradients' })).toBe('ok')
    expect(stepVerdict(12, at)).toBe('ahead')
    expect(stepVerdict(10 + STEP_BOMB_MARGIN + 1, at)).toBe('bomb')
    expect(stepVerdict(10 + 1e6, at)).toBe('bomb')
    expect(stepVerdict(-1, at)).toBe('bomb')
    expect(stepVerdict(1.5, at)).toBe('bomb')
    // A replica pushed one step past the tracker cannot be pushed further: the bound is the tracker's.
    expect(stepVerdict(12, { ...at, applied: 11 })).toBe('ahead')
  })

  it('caps a sync weight at a sync period\'s microbatches and refuses NaN/Inf weights or parameters', () => {
    const params = new Float32Array([1, 2])
    expect(checkedContribution({ step: 4, params, weight: 1e30 }, 32).weight).toBe(32)
    expect(checkedContribution({ step: 4, params, weight: 3 }, 32).weight).toBe(3)
    expect(checkedContribution({ step: 4, params }, 32).weight).toBe(1)
    for (const weight of [NaN, Infinity, -1]) expect(() => checkedContribution({ step: 4, params, weight }, 32)).toThrow(expect.objectContaining({ name: 'NonFiniteError' }))
    expect(() => checkedContribution({ step: 4, params: new Float32Array([1, NaN]), weight: 1 }, 32)).toThrow(expect.objectContaining({ name: 'NonFiniteError' }))
  })

  it('bans a peer: nothing more is taken from it, tensors or weight requests', () => {
    const view: GateView = {
      shape: [1, 1, 2], lookahead: 0, applied: () => 0, trackerStep: () => 0,
      listedPrev: () => true, listedNext: () => true, awaits: () => true
    }
    const gate = new PeerGate(view)
    const t: InboundTensor = { microbatch: 1, kind: 'activations', optimizerStep: 0, data: new Float32Array(2), meta: {}, from: 'p', sha256: 'x' }
    expect(gate.checkTensor(t)).toEqual({ take: t, ahead: false })
    gate.ban('p')
    expect(() => gate.checkTensor(t)).toThrow(expect.objectContaining({ name: 'BannedPeerError' }))
    expect(() => { gate.weights('p', 'latest', true) }).toThrow(expect.objectContaining({ name: 'BannedPeerError' }))
  })
})

describe('replica sync against a hostile replica', () => {
  /** Replica `a` (weights [0, 0], 2 microbatches) averaging with a peer that answers `evil`. */
  async function syncWith (evil: SyncWeights, learned?: Record<string, number> | null) {
    const k = recordingKernels()
    let p = new Float32Array([0, 0])
    const c = new StageCompute({ kernels: { ...k, exportParams: async () => p.slice(), importParams: async x => { p = x.slice() } }, slots: 1, clock: systemClock })
    const violations: string[] = []
    const s = new ReplicaSync({
      me: 'a', every: 1, outer: { lr: 1, momentum: 0 }, clock: systemClock, exclusive: c.exclusive.bind(c), peers: () => ['a', 'b', 'c'],
      timeoutMs: 50, maxWeight: 8, onViolation: (peer, err) => { violations.push(`${peer} ${err.name}`) },
      fetch: async (peer, step) => peer === 'b' ? { ...evil, step } : { step, params: new Float32Array([4, 4]), weight: 2 },
      digest: async x => Array.from(x).join(','),
      ...(learned !== undefined ? { learned: async () => learned } : {})
    })
    await s.start(new Float32Array([0, 0]), 0)
    await s.onStepped(1, 2)
    return { params: Array.from(p), violations }
  }

  it('a weight of 1e30 does not replace everyone\'s weights: it counts as a whole period at most', async () => {
    const r = await syncWith({ step: 1, params: new Float32Array([1000, 1000]), weight: 1e30 })
    // a: [0,0]·2, b: [1000,1000]·8 (capped), c: [4,4]·2 → (0 + 8000 + 8) / 12
    expect(r.params[0]).toBeCloseTo(8008 / 12, 3)
    expect(r.params[0]).toBeLessThan(1000)
    expect(r.violations).toEqual([])
  })

  it('a claimed weight is capped at the microbatches the tracker credited it for in the period', async () => {
    const r = await syncWith({ step: 1, params: new Float32Array([1000, 1000]), weight: 8 }, { a: 2, b: 1, c: 2 })
    // a: [0,0]·2, b: [1000,1000]·1 (its credited work, not its claim of 8), c: [4,4]·2 → 1008 / 5
    expect(r.params[0]).toBeCloseTo(1008 / 5, 3)
    // A replica the tracker never credited in the period counts for nothing, and so does one absent from the counts.
    expect((await syncWith({ step: 1, params: new Float32Array([1000, 1000]), weight: 8 }, { a: 2, c: 2 })).params[0]).toBeCloseTo(2, 5)
    // Counts not known yet (null): the whole-period cap still holds.
    expect((await syncWith({ step: 1, params: new Float32Array([1000, 1000]), weight: 1e30 }, null)).params[0]).toBeCloseTo(8008 / 12, 3)
  })

  it('NaN weights or parameters are left out of the average and reported', async () => {
    for (const evil of [{ step: 1, params: new Float32Array([1, 1]), weight: NaN }, { step: 1, params: new Float32Array([NaN, 1]), weight: 1 }]) {
      const r = await syncWith(evil)
      expect(r.params).toEqual([2, 2]) // a and c only: (0·2 + 4·2) / 4
      expect(r.violations).toEqual(['b NonFiniteError'])
    }
  })
})
