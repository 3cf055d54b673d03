// GPU memory a stage needs, computed from the same spec tables and placement rules that lay its
// buffers out (params.ts, activations.ts, stage-buffers.ts), so the plan is what the stage
// allocates (stage-memory.gpu.test.ts checks it against the buffers a GptStage creates), plus the
// planning helpers the new-campaign form shows: FLOPs per token and a stage count that fits a budget.
import { ownsEmbedding, ownsHead, splitStages, stageFlops, type GPTConfig, type StageRange } from './config.ts'
import { stageLayout } from './params.ts'
import { activationLayout } from './activations.ts'
import { placeActivations, placeScratch } from './stage-buffers.ts'

export interface StageMemory {
  /** fp32 weights */
  params: number
  grads: number
  /** AdamW m and v */
  adam: number
  /** what forward saves for backward (activations.ts), one microbatch in flight; the logits (B,T,V) on the head stage dominate at vocab 50257 */
  activations: number
  /** backward's activation gradients: one layer's worth of (B,T,C) buffers, reused per layer (llm.c) */
  scratch: number
  /** readback buffers (output, d input, losses) and stage 0's token index */
  io: number
  total: number
  /** of `total`: the share of wte/wpe (stage 0) and of ln_f/lm_head (last stage), weights + grads + Adam */
  embeddingWeights: number
  headWeights: number
}

/** Bytes (fp32, alignment padding included) with `slots` microbatches in flight (@default 1). */
export function stageMemory (config: GPTConfig, range: StageRange, B: number, T: number, slots = 1): StageMemory {
  const layout = stageLayout(config, range)
  const params = 4 * layout.totalElements
  const place = placeActivations(activationLayout(config, range, B, T))
  const activations = slots * 4 * (place.sizes.acts + Math.max(1, place.sizes.mm))
  const C = config.d_model
  const BT = B * T
  const sc = placeScratch(BT, C)
  const scratch = 4 * (sc.res.size + sc.mid.size)
  // Readbacks round up to 16 bytes (stage.ts #stagingFor); token index per slot on stage 0.
  const readback = (n: number): number => Math.max(16, Math.ceil(n / 4) * 16)
  const first = ownsEmbedding(range); const last = ownsHead(config, range)
  let io = 4 * 4 // grad-norm result
  if (!last) io += slots * readback(BT * C) // output
  if (!first) io += slots * readback(BT * C) // d input
  if (last) io += slots * readback(BT) // losses
  // embedding.ts tokenIndexLength (not imported: that module pulls in its shader); the GPU test catches drift.
  if (first) io += slots * 4 * (2 + 2 * Math.min(config.vocab, BT) + BT)
  const weightsOf = (names: string[]): number => 4 * 4 * names.reduce((s, n) => s + (layout.byName.get(n)?.size ?? 0), 0)
  return {
    params,
    grads: params,
    adam: 2 * params,
    activations,
    scratch,
    io,
    total: 4 * params + activations + scratch + io,
    embeddingWeights: first ? weightsOf(['transformer.wte.weight', 'transformer.wpe.weight']) : 0,
    headWeights: last ? weightsOf(['transformer.ln_f.weight', 'transformer.ln_f.bias', 'lm_head.weight']) : 0
  }
}

/** A browser tab's GPU budget for one stage (the planning figure; a phone has less, a desktop GPU more). */
export const TAB_BUDGET_BYTES = 4 * 1024 ** 3

/** Training FLOPs per token of the whole model (forward + backward), as the work receipts count them. */
export function flopsPerToken (config: GPTConfig, T: number): number {
  return stageFlops(config, { first: 0, last: config.n_layer }, 1, T).total / T
}

/** The fewest stages whose largest stage fits `budget` bytes, or null when even one layer per stage does not. */
export function suggestStages (config: GPTConfig, B: number, T: number, budget = TAB_BUDGET_BYTES): { stages: number, largest: number } | null {
  for (let S = 1; S <= config.n_layer; S++) {
    const largest = Math.max(...splitStages(config, S).map(r => stageMemory(config, r, B, T).total))
    if (largest <= budget) return { stages: S, largest }
  }
  return null
}
