import { describe, expect, it } from 'vitest'
import { SpotChecks, spotCheckIndices, type SpotReport } from './spot-checks.ts'

const base = { microbatch: 7, stage: 1, step: 3, weightsDigest: 'w1' }
const honest = [0.5, -1.25, 3.0, 1e-6]
const r = (peerId: string, sample: number[], over: Partial<SpotReport> = {}): SpotReport => ({ peerId, ...base, sample, ...over })

describe('SpotChecks', () => {
  it('verifies replicas that agree within float rounding (another GPU), flags the odd one out', () => {
    const s = new SpotChecks()
    expect(s.report(r('a', honest))).toEqual([])
    // Different hardware: a few ulps off.
    const b = s.report(r('b', honest.map(x => x * (1 + 3e-6))))
    expect(b).toEqual([{ peerId: 'a', verdict: 'verified' }, { peerId: 'b', verdict: 'verified' }])
    const c = s.report(r('c', honest.map(() => Math.random())))
    expect(c).toContainEqual({ peerId: 'c', verdict: 'flagged' })
    expect(s.isFlagged('c')).toBe(true)
    expect(s.isFlagged('a') || s.isFlagged('b')).toBe(false)
  })

  it('catches zeros, a stale copy and skipped compute as disagreement', () => {
    for (const garbage of [[0, 0, 0, 0], [0.49, -1.2, 2.9, 0], honest.map(x => x * 1.01)]) {
      const s = new SpotChecks()
      s.report(r('a', honest)); s.report(r('b', honest))
      expect(s.report(r('cheat', garbage))).toContainEqual({ peerId: 'cheat', verdict: 'flagged' })
    }
  })

  it('leaves one against one undecided, and never compares replicas whose weights differ', () => {
    const s = new SpotChecks()
    s.report(r('a', honest))
    expect(s.report(r('b', [9, 9, 9, 9]))).toEqual([])
    expect(s.flagged).toEqual([])
    const t = new SpotChecks()
    t.report(r('a', honest))
    t.report(r('b', [9, 9, 9, 9], { weightsDigest: 'w2' })) // missed the sync: not comparable
    expect(t.report(r('c', [9, 9, 9, 9], { weightsDigest: 'w2' }))).toEqual([{ peerId: 'b', verdict: 'verified' }, { peerId: 'c', verdict: 'verified' }])
    expect(t.isFlagged('a')).toBe(false)
  })

  it('counts one vote per address, and only bound votes once anyone reporting is bound', () => {
    const s = new SpotChecks()
    s.report(r('x1', [9, 9, 9, 9], { address: '0xA' }))
    s.report(r('x2', [9, 9, 9, 9], { address: '0xa' })) // the same address in another case
    s.report(r('u1', [9, 9, 9, 9])); s.report(r('u2', [9, 9, 9, 9])) // unbound: no votes here
    // One address against one: h is neither flagged nor verified, whatever the unbound say.
    expect(s.report(r('h', honest, { address: '0xB' })).filter(x => x.peerId === 'h' || x.verdict === 'flagged')).toEqual([])
    expect(s.flagged).toEqual([])
    const v = s.report(r('h2', honest, { address: '0xC' }))
    expect(v.filter(x => x.verdict === 'flagged').map(x => x.peerId).sort()).toEqual(['x1', 'x2'])
    expect(s.isVerified('h') && s.isVerified('h2')).toBe(true)
  })

  it('rejects NaN and length mismatches as disagreement', () => {
    const s = new SpotChecks()
    expect(s.agree([1, NaN], [1, NaN])).toBe(false)
    expect(s.agree([1], [1, 2])).toBe(false)
  })
})

describe('spotCheckIndices', () => {
  it('is deterministic, in range, and differs between microbatches', () => {
    const a = spotCheckIndices('c', 1, 0, 1000)
    expect(a).toEqual(spotCheckIndices('c', 1, 0, 1000))
    expect(a).toHaveLength(32)
    for (const i of a) { expect(i).toBeGreaterThanOrEqual(0); expect(i).toBeLessThan(1000) }
    expect(spotCheckIndices('c', 2, 0, 1000)).not.toEqual(a)
    expect(new Set(a).size).toBeGreaterThan(20)
  })
})
