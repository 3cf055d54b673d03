import { describe, expect, it } from 'vitest'
import { stageLayout, viewOf } from './params.ts'
import { PRESETS, fullRange, splitStages, stageParamCount, type GPTConfig } from './config.ts'
import { VIEW_ALIGN_ELEMENTS } from '../gpu/tensor.ts'

const cfg: GPTConfig = { vocab: 11, d_model: 12, n_layer: 3, n_head: 3, n_ctx: 7 }

describe('parameter spec table', () => {
  it('names every tensor as DESIGN.md, in buffer order, with HF shapes', () => {
    const l = stageLayout(cfg, fullRange(cfg))
    const names = l.views.map(v => v.name)
    expect(names.slice(0, 14)).toEqual([
      'transformer.wte.weight', 'transformer.wpe.weight',
      'transformer.h.0.ln_1.weight', 'transformer.h.0.ln_1.bias',
      'transformer.h.0.attn.c_attn.weight', 'transformer.h.0.attn.c_attn.bias',
      'transformer.h.0.attn.c_proj.weight', 'transformer.h.0.attn.c_proj.bias',
      'transformer.h.0.ln_2.weight', 'transformer.h.0.ln_2.bias',
      'transformer.h.0.mlp.c_fc.weight', 'transformer.h.0.mlp.c_fc.bias',
      'transformer.h.0.mlp.c_proj.weight', 'transformer.h.0.mlp.c_proj.bias'
    ])
    expect(names.slice(-3)).toEqual(['transformer.ln_f.weight', 'transformer.ln_f.bias', 'lm_head.weight'])
    expect(names.length).toBe(2 + 12 * 3 + 3)
    expect(l.byName.get('transformer.h.2.attn.c_attn.weight')!.shape).toEqual([12, 36])
    expect(l.byName.get('transformer.h.2.mlp.c_proj.weight')!.shape).toEqual([48, 12])
    expect(l.byName.get('lm_head.weight')!.shape).toEqual([11, 12])
    expect(l.byName.get('transformer.wpe.weight')!.shape).toEqual([7, 12])
  })

  it('aligns every view, never overlaps, and counts the same params as config.ts', () => {
    for (const r of splitStages(cfg, 3).concat([fullRange(cfg)])) {
      const l = stageLayout(cfg, r)
      let end = 0
      for (const v of l.views) {
        expect(v.offset % VIEW_ALIGN_ELEMENTS).toBe(0)
        expect(v.offset).toBeGreaterThanOrEqual(end)
        end = v.offset + v.size
      }
      expect(l.totalElements).toBeGreaterThanOrEqual(end)
      expect(l.totalElements % VIEW_ALIGN_ELEMENTS).toBe(0)
      expect(l.paramCount).toBe(stageParamCount(cfg, r).total)
    }
  })

  it('marks matrices for weight decay and gives each tensor its init rule', () => {
    const l = stageLayout(cfg, fullRange(cfg))
    const decay = l.views.filter(v => v.matrix).map(v => v.name)
    expect(decay).toContain('transformer.wte.weight')
    expect(decay).toContain('lm_head.weight')
    expect(decay.some(n => n.includes('ln_') || n.endsWith('.bias'))).toBe(false)
    expect(l.layerView(1).attprojw.init).toBe('residual')
    expect(l.layerView(1).fcprojw.init).toBe('residual')
    expect(l.layerView(1).qkvw.init).toBe('normal')
    expect(l.layerView(1).ln2w.init).toBe('ones')
    expect(l.layerView(1).fcb.init).toBe('zeros')
  })

  it('gives stages their own tensors only, with global layer indices', () => {
    const [s0, s1, s2] = splitStages(cfg, 3).map(r => stageLayout(cfg, r))
    expect(s0.embedding).not.toBeNull(); expect(s0.head).toBeNull()
    expect(s1.embedding).toBeNull(); expect(s1.head).toBeNull()
    expect(s2.head).not.toBeNull()
    expect(s1.views.map(v => v.name)[0]).toBe('transformer.h.1.ln_1.weight')
    expect(s1.layerView(1).qkvw.layer).toBe(1)
    expect(() => s1.layerView(0)).toThrow(RangeError)
  })

  it('viewOf returns a live view into the flat buffer', () => {
    const l = stageLayout(PRESETS.tiny, fullRange(PRESETS.tiny))
    const flat = new Float32Array(l.totalElements)
    viewOf(flat, l.layerView(1).ln1b)[3] = 7
    expect(flat[l.layerView(1).ln1b.offset + 3]).toBe(7)
  })
})
