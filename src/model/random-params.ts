// Random parameters for tests: the whole model's flat params (normal, std 0.3; LayerNorm weights
// 1) and the same values split into an S-stage pipeline's per-stage buffers, so a multi-stage GPU
// run can be compared with the float64 model over the whole.
import { fullRange, splitStages, type GPTConfig } from './config.ts'
import { stageLayout, viewOf, type StageLayout } from './params.ts'
import { createRng, fillNormal } from './rng.ts'

export interface RandomParams {
  full: StageLayout
  flat: Float32Array
  /** `flat` cut into each stage's layout, in stage order */
  stages: Float32Array[]
}

export function randomParams (config: GPTConfig, S: number, seed: number, std = 0.3): RandomParams {
  const full = stageLayout(config, fullRange(config))
  const flat = new Float32Array(full.totalElements)
  const rng = createRng(seed)
  for (const v of full.views) { const t = viewOf(flat, v); fillNormal(t, rng, std); if (v.init === 'ones') t.fill(1) }
  const stages = splitStages(config, S).map(r => {
    const l = stageLayout(config, r)
    const out = new Float32Array(l.totalElements)
    for (const v of l.views) viewOf(out, v).set(viewOf(flat, full.byName.get(v.name)!))
    return out
  })
  return { full, flat, stages }
}
