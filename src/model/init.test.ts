import { describe, expect, it } from 'vitest'
import { initStageParams, INIT_STD } from './init.ts'
import { stageLayout, viewOf } from './params.ts'
import { PRESETS, fullRange, splitStages } from './config.ts'

describe('deterministic init', () => {
  const cfg = PRESETS.tiny
  const full = stageLayout(cfg, fullRange(cfg))
  const params = initStageParams(full, 42)

  it('is reproducible from the seed and changes with it', () => {
    expect(initStageParams(full, 42)).toEqual(params)
    expect(initStageParams(full, 43)).not.toEqual(params)
  })

  it('gives every stage exactly the full model\'s tensors', () => {
    for (const r of splitStages({ ...cfg, n_layer: 2 }, 2)) {
      const l = stageLayout(cfg, r)
      const p = initStageParams(l, 42)
      for (const v of l.views) expect(viewOf(p, v), v.name).toEqual(viewOf(params, full.byName.get(v.name)!))
    }
  })

  it('follows GPT-2: std 0.02, residual projections /√(2L), LayerNorm 1/0, biases 0', () => {
    const std = (x: Float32Array): number => { const m = x.reduce((s, v) => s + v, 0) / x.length; return Math.sqrt(x.reduce((s, v) => s + (v - m) ** 2, 0) / x.length) }
    const lv = full.layerView(0)
    expect(std(viewOf(params, full.embedding!.wte))).toBeCloseTo(INIT_STD, 3)
    expect(std(viewOf(params, lv.fcw))).toBeCloseTo(INIT_STD, 3)
    expect(std(viewOf(params, lv.fcprojw))).toBeCloseTo(INIT_STD / Math.sqrt(2 * cfg.n_layer), 3)
    expect(viewOf(params, lv.ln1w).every(x => x === 1)).toBe(true)
    expect(viewOf(params, lv.ln1b).every(x => x === 0)).toBe(true)
    expect(viewOf(params, lv.qkvb).every(x => x === 0)).toBe(true)
    // Different names give different streams.
    expect(viewOf(params, full.layerView(0).qkvw)).not.toEqual(viewOf(params, full.layerView(1).qkvw))
  })

  it('rejects a seed that is not a 32-bit unsigned integer', () => {
    try { initStageParams(full, -1); expect.unreachable() } catch (e) { expect((e as Error).name).toBe('ConfigError') }
  })
})
