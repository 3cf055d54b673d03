// GPU memory a stage needs, from the same spec tables that lay its buffers out.
import type { GPTConfig, StageRange } from './config.ts'
import { stageLayout } from './params.ts'
import { activationLayout } from './activations.ts'

export interface StageMemory {
  params: number
  grads: number
  /** AdamW m and v */
  adam: number
  /** what forward saves for backward (activations.ts) */
  activations: number
  /** backward's activation gradients: about one layer's worth of (B,T,C) buffers, reused per layer (llm.c) */
  scratch: number
  total: number
}

/** Bytes (fp32, alignment padding included) for one microbatch in flight. */
export function stageMemory (config: GPTConfig, range: StageRange, B: number, T: number): StageMemory {
  const params = 4 * stageLayout(config, range).totalElements
  const acts = activationLayout(config, range, B, T)
  const activations = 4 * acts.totalElements
  const C = config.d_model
  // dres, dln, dqkv (3C), datty, dfch (4C), dfchGelu (4C): 14·BTC, plus dlogits reuses logits.
  const scratch = 4 * 14 * B * T * C
  return { params, grads: params, adam: 2 * params, activations, scratch, total: 4 * params + activations + scratch }
}
