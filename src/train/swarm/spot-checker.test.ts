import { describe, expect, it } from 'vitest'
import { SpotChecker } from './spot-checker.ts'
import type { SpotCommitBody, SpotCommitReply, SpotOpenBody } from '../../protocol/swarm.ts'
import { openProof } from '../../ledger/output-merkle.ts'

function checker (reply: (b: SpotCommitBody) => SpotCommitReply, rate = 0.5): { s: SpotChecker, commits: SpotCommitBody[], opens: SpotOpenBody[], shadows: string[], flagged: () => number } {
  const commits: SpotCommitBody[] = []
  const opens: SpotOpenBody[] = []
  const shadows: string[] = []
  let flagged = 0
  const s = new SpotChecker({
    me: 'me', rate,
    commit: async b => { commits.push(b); return reply(b) },
    open: async b => { opens.push(b); return { verdicts: [{ peerId: 'me', verdict: 'flagged' }] } },
    sendShadow: async (to, mb) => { shadows.push(`${to}:${mb}`); if (to === 'down') throw new Error('gone') },
    onFlagged: () => { flagged++ }
  })
  return { s, commits, opens, shadows, flagged: () => flagged }
}

describe('SpotChecker', () => {
  const output = Float32Array.from({ length: 1000 }, (_, i) => i / 7)
  const w = { step: 4, digest: 'd'.repeat(64) }

  it('commits to every output, opens nothing when the tracker does not check it', async () => {
    const c = checker(() => ({ checked: false }))
    await c.s.audit(9, 1, output, w, 4)
    expect(c.commits).toEqual([expect.objectContaining({ microbatch: 9, stage: 1, step: 4, weightsDigest: w.digest, numel: 1000 })])
    expect(c.commits[0].root).toMatch(/^[0-9a-f]{64}$/)
    expect(c.opens).toHaveLength(0)
  })

  it('opens exactly the revealed indices with proofs that verify under its commitment, and hears it was flagged', async () => {
    const c = checker(() => ({ checked: true, indices: [3, 999, 500] }))
    await c.s.audit(9, 1, output, w, 4)
    expect(c.opens).toHaveLength(1)
    const values = [3, 999, 500].map((i, k) => openProof(c.commits[0].root, 1000, i, c.opens[0].proofs[k]))
    expect(values).toEqual([output[3], output[999], output[500]])
    expect(c.flagged()).toBe(1)
  })

  it('weights that moved on since the sync are committed as such (null digest)', async () => {
    const c = checker(() => ({ checked: false }))
    await c.s.audit(9, 1, output, null, 5)
    expect(c.commits[0]).toMatchObject({ step: 5, weightsDigest: null })
  })

  it('rate 0 commits nothing; a failing tracker call does not throw into training', async () => {
    const off = checker(() => ({ checked: true, indices: [1] }), 0)
    await off.s.audit(9, 1, output, w, 4)
    expect(off.commits).toHaveLength(0)
    const broken = checker(() => { throw new Error('503') })
    await expect(broken.s.audit(9, 1, output, w, 4)).resolves.toBeUndefined()
  })

  it('sends shadows to every other next-stage replica, surviving one that is down', async () => {
    const c = checker(() => ({ checked: false }))
    await c.s.sendShadows(7, new Float32Array(4), 'primary', ['primary', 'down', 'up'])
    expect(c.shadows).toEqual(['down:7', 'up:7'])
  })

  it('shadows only what the tracker named, ignoring junk in its reply, with a bounded memory', () => {
    const c = checker(() => ({ checked: false }))
    c.s.learnShadows([4, 7, -1, 1.5, 'x', null])
    c.s.learnShadows(undefined)
    expect([4, 7, 5, -1].map(mb => c.s.shadows(mb))).toEqual([true, true, false, false])
    c.s.learnShadows(Array.from({ length: 3000 }, (_, i) => 100 + i))
    expect(c.s.shadows(4)).toBe(false) // the oldest went first
    expect(c.s.shadows(3099)).toBe(true)
    const off = checker(() => ({ checked: false }), 0)
    off.s.learnShadows([4])
    expect(off.s.shadows(4)).toBe(false)
  })
})
