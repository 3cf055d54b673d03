import { describe, expect, it } from 'vitest'
import { activationLayout } from './activations.ts'
import { stageMemory } from './memory.ts'
import { stageLayout } from './params.ts'
import { PRESETS, fullRange, splitStages, type GPTConfig } from './config.ts'
import { VIEW_ALIGN_ELEMENTS } from '../gpu/tensor.ts'

const cfg: GPTConfig = { vocab: 11, d_model: 12, n_layer: 3, n_head: 3, n_ctx: 7 }

describe('activation spec table', () => {
  it('lays out aligned, non-overlapping views with the expected shapes', () => {
    const a = activationLayout(cfg, fullRange(cfg), 2, 5)
    let end = 0
    for (const v of a.views) {
      expect(v.offset % VIEW_ALIGN_ELEMENTS).toBe(0)
      expect(v.offset).toBeGreaterThanOrEqual(end)
      end = v.offset + v.size
    }
    expect(a.tokens!.dtype).toBe('u32')
    expect(a.targets!.shape).toEqual([2, 5])
    expect(a.layerView(1).qkv.shape).toEqual([2, 5, 36])
    expect(a.layerView(1).attLse.shape).toEqual([2, 3, 5])
    expect(a.head!.logits.shape).toEqual([2, 5, 11])
    expect(a.output).toBe(a.layerView(2).res3)
  })

  it('gives middle stages no tokens, targets or head', () => {
    const [, mid] = splitStages(cfg, 3).map(r => activationLayout(cfg, r, 1, 7))
    expect(mid.tokens).toBeNull()
    expect(mid.targets).toBeNull()
    expect(mid.head).toBeNull()
    expect(mid.output).toBe(mid.layerView(1).res3)
    expect(() => mid.layerView(2)).toThrow(RangeError)
    try { activationLayout(cfg, fullRange(cfg), 1, 8); expect.unreachable() } catch (e) { expect((e as Error).name).toBe('ConfigError') }
  })
})

describe('stage memory', () => {
  it('is params + grads + two Adam moments + activations + scratch, from the layouts', () => {
    const c = PRESETS.tiny
    const m = stageMemory(c, fullRange(c), 4, 64)
    expect(m.params).toBe(4 * stageLayout(c, fullRange(c)).totalElements)
    // the same views, split over two buffers with the same alignment rule
    expect(m.activations).toBeGreaterThanOrEqual(4 * activationLayout(c, fullRange(c), 4, 64).totalElements)
    expect(m.activations).toBeLessThan(4 * activationLayout(c, fullRange(c), 4, 64).totalElements + 4096)
    expect(m.total).toBe(4 * m.params + m.activations + m.scratch + m.io)
    // 18 (B,T,C)-sized buffers per layer at least (llm.c's list without the attention matrix)
    expect(m.activations).toBeGreaterThan(4 * c.n_layer * 18 * 4 * 64 * c.d_model)
  })
})
