import { describe, expect, it } from 'vitest'
import { PRESETS, layerParamCount, splitStages, stageFlops, stageParamCount, validateConfig, validateRange, fullRange, type GPTConfig } from './config.ts'

function errName (fn: () => unknown): string {
  try { fn(); return 'no error' } catch (e) { return (e as Error).name }
}

describe('GPTConfig', () => {
  it('accepts the presets', () => {
    for (const c of Object.values(PRESETS)) expect(validateConfig(c)).toEqual(c)
  })

  it('rejects bad configs with ConfigError', () => {
    const ok = PRESETS.tiny
    expect(errName(() => validateConfig(null))).toBe('ConfigError')
    expect(errName(() => validateConfig({ ...ok, d_model: 65 }))).toBe('ConfigError') // not divisible by n_head
    expect(errName(() => validateConfig({ ...ok, n_layer: 0 }))).toBe('ConfigError')
    expect(errName(() => validateConfig({ ...ok, vocab: 2.5 }))).toBe('ConfigError')
    expect(errName(() => validateConfig({ ...ok, n_ctx: '64' }))).toBe('ConfigError')
    expect(errName(() => validateConfig({ ...ok, extra: 1 }))).toBe('ConfigError')
    const { n_head: _, ...missing } = ok
    expect(errName(() => validateConfig(missing))).toBe('ConfigError')
  })

  it('GPT-2 124M has its well-known parameter count (with an untied head)', () => {
    const gpt2: GPTConfig = { vocab: 50257, d_model: 768, n_layer: 12, n_head: 12, n_ctx: 1024 }
    // 124,439,808 with tied embeddings (llm.c), plus a separate lm_head of V·C.
    expect(stageParamCount(gpt2, fullRange(gpt2)).total).toBe(124_439_808 + 50257 * 768)
  })
})

describe('stages', () => {
  const cfg: GPTConfig = { ...PRESETS.small, n_layer: 7 }

  it('splits contiguously, balanced, covering every layer once', () => {
    for (let S = 1; S <= 7; S++) {
      const r = splitStages(cfg, S)
      expect(r.length).toBe(S)
      expect(r[0].first).toBe(0)
      expect(r[S - 1].last).toBe(7)
      for (let s = 1; s < S; s++) expect(r[s].first).toBe(r[s - 1].last)
      const n = r.map(x => x.last - x.first)
      expect(Math.max(...n) - Math.min(...n)).toBeLessThanOrEqual(1)
    }
    // 7 layers into 3: the extra layer goes to the middle stage, not to the head's stage.
    expect(splitStages(cfg, 3).map(r => r.last - r.first)).toEqual([2, 3, 2])
  })

  it('rejects impossible splits and ranges', () => {
    expect(errName(() => splitStages(cfg, 0))).toBe('ConfigError')
    expect(errName(() => splitStages(cfg, 8))).toBe('ConfigError')
    expect(errName(() => validateRange(cfg, { first: 3, last: 3 }))).toBe('ConfigError')
    expect(errName(() => validateRange(cfg, { first: 0, last: 8 }))).toBe('ConfigError')
  })

  it('stage parameter counts add up to the full model', () => {
    const whole = stageParamCount(cfg, fullRange(cfg)).total
    const parts = splitStages(cfg, 3).map(r => stageParamCount(cfg, r))
    expect(parts.reduce((s, p) => s + p.total, 0)).toBe(whole)
    expect(parts[0].embedding).toBe((cfg.vocab + cfg.n_ctx) * cfg.d_model)
    expect(parts[1].embedding + parts[1].head).toBe(0)
    expect(parts[2].head).toBe(2 * cfg.d_model + cfg.vocab * cfg.d_model)
    expect(layerParamCount(cfg)).toBe(12 * cfg.d_model ** 2 + 13 * cfg.d_model)
  })

  it('FLOPs: 2·params·tokens plus causal attention forward, backward twice that, additive over stages', () => {
    const c: GPTConfig = { vocab: 10, d_model: 4, n_layer: 2, n_head: 2, n_ctx: 8 }
    const B = 3; const T = 5
    const f = stageFlops(c, fullRange(c), B, T)
    const matmulParams = 2 * layerParamCount(c) + 2 * 4 + 10 * 4 // embeddings are lookups
    // QKᵀ and PV: 2 FLOPs · HS per query-key pair, T(T+1)/2 pairs per head and sequence.
    const attention = 2 * 2 * (2 * 2 * 2 * (T * (T + 1) / 2)) * B
    expect(f.forward).toBe(2 * matmulParams * B * T + attention)
    expect(f.backward).toBe(2 * f.forward)
    expect(f.total).toBe(3 * f.forward)
    const parts = splitStages(c, 2).map(r => stageFlops(c, r, B, T).total)
    expect(parts[0] + parts[1]).toBe(f.total)
    expect(errName(() => stageFlops(c, fullRange(c), B, 9))).toBe('ConfigError')
  })
})
