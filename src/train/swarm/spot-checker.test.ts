import { describe, expect, it } from 'vitest'
import { SpotChecker } from './spot-checker.ts'
import type { SpotReportBody } from '../../protocol/swarm.ts'

describe('SpotChecker', () => {
  const reports: SpotReportBody[] = []
  const shadows: string[] = []
  let flagged = 0
  const s = new SpotChecker({
    campaign: 'c'.repeat(32), me: 'me', rate: 0.25, syncEvery: 2,
    report: async body => { reports.push(body); return { verdicts: [{ peerId: 'me', verdict: 'flagged' }] } },
    sendShadow: async (to, mb) => { shadows.push(`${to}:${mb}`); if (to === 'down') throw new Error('gone') },
    onFlagged: () => { flagged++ }
  })

  it('checks about `rate` of microbatches, only right after a sync, the same way on every tab', () => {
    const ids = Array.from({ length: 4000 }, (_, i) => i)
    const share = ids.filter(mb => s.checked(mb, 2)).length / ids.length
    expect(share).toBeGreaterThan(0.2)
    expect(share).toBeLessThan(0.3)
    expect(ids.some(mb => s.checked(mb, 3))).toBe(false) // step 3 is not right after a sync
  })

  it('sends shadows to every other next-stage replica, surviving one that is down', async () => {
    await s.sendShadows(7, new Float32Array(4), 'primary', ['primary', 'down', 'up'])
    expect(shadows).toEqual(['down:7', 'up:7'])
  })

  it('reports a sample only with synced weights, and tells when this tab is flagged', async () => {
    await s.report(7, 1, new Float32Array(64).fill(1), null)
    expect(reports).toHaveLength(0)
    await s.report(7, 1, new Float32Array(64).fill(1), { step: 2, digest: 'd'.repeat(64) })
    expect(reports[0]).toMatchObject({ microbatch: 7, stage: 1, step: 2 })
    expect(reports[0].sample.every(x => x === 1)).toBe(true)
    expect(flagged).toBe(1)
  })
})
