import { describe, expect, it } from 'vitest'
import { ValidationPass, EvalMarkError, type ValidationPassInit } from './validation-pass.ts'
import { VALIDATION_BATCHES } from '../evaluate.ts'
import type { EvalLossBody } from '../../protocol/swarm.ts'

/** A stage whose forward doubles its input (stage 0: the token ids as floats) and scores the last stage as the sum. */
function pass (role: { isFirst: boolean, isLast: boolean }, windows = true, totalSteps = 20): { p: ValidationPass, sent: Array<{ batch: number, step: number, x: number[] }>, reports: EvalLossBody[], computed: number } {
  const sent: Array<{ batch: number, step: number, x: number[] }> = []
  const reports: EvalLossBody[] = []
  const stats = { computed: 0 }
  const init: ValidationPassInit = {
    ...role,
    totalSteps,
    windows: windows ? { batches: VALIDATION_BATCHES, microbatch: k => ({ inputs: Uint32Array.of(k, k + 1), targets: Uint32Array.of(k + 1, k + 2) }) } : null,
    compute: {
      evaluate: async (input, targets) => {
        stats.computed++
        const x = Float32Array.from(input, v => 2 * v)
        return role.isLast ? { output: null, loss: targets != null ? x.reduce((a, b) => a + b, 0) : null } : { output: x, loss: null }
      }
    },
    send: async (batch, step, x) => { sent.push({ batch, step, x: Array.from(x) }) },
    report: async body => { reports.push(body) }
  }
  const p = new ValidationPass(init)
  return { p, sent, reports, get computed () { return stats.computed } }
}

describe('ValidationPass', () => {
  it('stage 0 runs the fixed windows once after a step that evaluates, and sends each batch on', async () => {
    const s = pass({ isFirst: true, isLast: false })
    expect([1, 2, 3, 4].map(step => s.p.due(step))).toEqual([true, true, false, true]) // every 2 steps of 20, and the first
    const { sent } = await s.p.run(2)
    await sent
    expect(s.sent).toEqual([0, 1, 2, 3].map(k => ({ batch: k, step: 2, x: [2 * k, 2 * k + 2] })))
    expect(s.p.due(2)).toBe(false)
    expect(s.p.due(1)).toBe(false) // an older step is never evaluated late
    await (await s.p.run(2)).sent
    expect(s.sent).toHaveLength(4)
  })

  it('only stage 0 of a campaign with a validation split starts a pass', async () => {
    expect(pass({ isFirst: false, isLast: false }).p.due(2)).toBe(false)
    expect(pass({ isFirst: true, isLast: false }, false).p.due(2)).toBe(false)
  })

  it('a middle stage passes a batch on; the last scores it against its own targets and reports', async () => {
    const mid = pass({ isFirst: false, isLast: false }, false)
    await mid.p.onBatch(3, 4, Float32Array.of(1, 2))
    expect(mid.sent).toEqual([{ batch: 3, step: 4, x: [2, 4] }])
    const last = pass({ isFirst: false, isLast: true })
    await last.p.onBatch(1, 4, Float32Array.of(1, 2))
    expect(last.reports).toEqual([{ step: 4, batch: 1, loss: 6 }])
  })

  it('refuses a hostile mark before any compute', async () => {
    const last = pass({ isFirst: false, isLast: true })
    for (const [batch, step] of [[0, 3], [0, 'x'], [0, 1e9], [VALIDATION_BATCHES, 2], [-1, 2], [0.5, 2]] as Array<[number, unknown]>) {
      await expect(last.p.onBatch(batch, step, Float32Array.of(1))).rejects.toBeInstanceOf(EvalMarkError)
    }
    expect(last.computed).toBe(0)
    expect(last.reports).toEqual([])
  })

  it('a one-stage campaign scores at stage 0 and reports; a failing report does not throw', async () => {
    const solo = pass({ isFirst: true, isLast: true })
    await (await solo.p.run(1)).sent
    expect(solo.reports.map(r => r.batch)).toEqual([0, 1, 2, 3])
    const broken = new ValidationPass({ isFirst: false, isLast: true, totalSteps: 20, windows: { batches: 4, microbatch: () => ({ inputs: Uint32Array.of(0), targets: Uint32Array.of(0) }) }, compute: { evaluate: async () => ({ output: null, loss: 1 }) }, send: async () => {}, report: async () => { throw new Error('503') } })
    await expect(broken.onBatch(0, 2, Float32Array.of(1))).resolves.toBeUndefined()
  })
})
