import { describe, expect, it } from 'vitest'
import { codecLink, type CodecLinkStats } from './pipeline-link.ts'
import type { PipelineStage } from '../train/pipeline.ts'

/** A receiving stage that records what arrives (the link only calls these two methods). */
function receiver (): { stage: PipelineStage, got: Array<[string, number, Float32Array]> } {
  const got: Array<[string, number, Float32Array]> = []
  const stage = {
    onActivations: async (mb: number, x: Float32Array) => { got.push(['activations', mb, x]) },
    onGradients: async (mb: number, dx: Float32Array) => { got.push(['gradients', mb, dx]) }
  } as unknown as PipelineStage
  return { stage, got }
}

describe('codec link (in-process pipeline)', () => {
  const shape = [2, 3, 16]
  const x = Float32Array.from({ length: 96 }, (_, i) => Math.sin(i) * 3)

  it('fp32 passes a copy of the exact floats', async () => {
    const r = receiver()
    await codecLink(r.stage, { codec: 'fp32', campaignSeed: 1, from: 0, shape }).sendActivations(5, x)
    expect(r.got[0][2]).toEqual(x)
    expect(r.got[0][2]).not.toBe(x)
  })

  it('q8 delivers the decoded tensor and counts the bytes and the codec time', async () => {
    const r = receiver()
    const stats: CodecLinkStats = { bytes: { activations: 0, gradients: 0 }, tensors: 0, encodeMs: 0, decodeMs: 0 }
    const link = codecLink(r.stage, { codec: 'q8', campaignSeed: 1, from: 1, shape }, stats)
    await link.sendActivations(5, x)
    await link.sendGradients(5, x)
    expect(stats).toMatchObject({ bytes: { activations: 6 * 20, gradients: 6 * 20 }, tensors: 2 })
    for (const [, mb, y] of r.got) {
      expect(mb).toBe(5)
      let worst = 0
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(y[i] - x[i]))
      expect(worst).toBeGreaterThan(0)
      expect(worst).toBeLessThan(3 / 127)
    }
  })
})
