import { describe, expect, it } from 'vitest'
import { argmax, sampleToken } from './sample.ts'
import { createRng } from '../rng.ts'

describe('sampling', () => {
  const logits = Float64Array.of(0.5, 2, -1, 1.9)

  it('temperature 0 is argmax', () => {
    expect(argmax(logits)).toBe(1)
    expect(sampleToken(logits, createRng(1), { temperature: 0 })).toBe(1)
  })

  it('temperature 1 follows softmax frequencies and is reproducible from the seed', () => {
    const rng = createRng(5)
    const counts = [0, 0, 0, 0]
    const n = 20000
    for (let i = 0; i < n; i++) counts[sampleToken(logits, rng)]++
    const z = Array.from(logits).reduce((s, x) => s + Math.exp(x), 0)
    for (let v = 0; v < 4; v++) expect(Math.abs(counts[v] / n - Math.exp(logits[v]) / z)).toBeLessThan(0.015)
    const a = createRng(9); const b = createRng(9)
    expect(Array.from({ length: 20 }, () => sampleToken(logits, a))).toEqual(Array.from({ length: 20 }, () => sampleToken(logits, b)))
  })

  it('topK restricts the candidates', () => {
    const rng = createRng(2)
    for (let i = 0; i < 200; i++) expect([1, 3]).toContain(sampleToken(logits, rng, { topK: 2, temperature: 5 }))
  })

  it('rejects bad options', () => {
    for (const o of [{ temperature: -1 }, { temperature: NaN }, { topK: 1.5 }]) {
      try { sampleToken(logits, createRng(1), o); expect.unreachable() } catch (e) { expect((e as Error).name).toBe('ModelInputError') }
    }
  })
})
