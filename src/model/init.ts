// Deterministic parameter init from (seed, tensor name): a stage's tensors equal the same tensors
// of the full model's init, whatever the split, because nothing depends on the stage.
import { createRng, fillNormal, hashString } from './rng.ts'
import { viewOf, type ParamView, type StageLayout } from './params.ts'
import { ConfigError } from './errors.ts'
import type { GPTConfig } from './config.ts'

/** GPT-2's std for weights and embeddings. */
export const INIT_STD = 0.02

/** Fills `out` (view.size elements) with the init of one tensor. */
export function initTensor (out: Float32Array | Float64Array, view: ParamView, config: GPTConfig, seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ConfigError(`seed must be an integer in [0, 2^32), got ${seed}`)
  if (out.length !== view.size) throw new RangeError(`${view.name}: got ${out.length} elements, want ${view.size}`)
  switch (view.init) {
    case 'ones': out.fill(1); return
    case 'zeros': out.fill(0); return
    case 'normal':
    case 'residual': {
      // GPT-2 scales residual projections by 1/√(2L): each block adds two of them to the stream.
      const std = view.init === 'residual' ? INIT_STD / Math.sqrt(2 * config.n_layer) : INIT_STD
      fillNormal(out, createRng(hashString(view.name), hashString(String(seed))), std)
    }
  }
}

/** A stage's flat parameter buffer (padding zero), float32 as it goes to the GPU and checkpoints. */
export function initStageParams (layout: StageLayout, seed: number): Float32Array {
  const flat = new Float32Array(layout.totalElements)
  for (const v of layout.views) initTensor(viewOf(flat, v), v, layout.config, seed)
  return flat
}
