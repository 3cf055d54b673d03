// Picking the next token from one row of logits (V): greedy at temperature 0, else softmax(logits/τ)
// sampled with a seeded uniform, optionally restricted to the top k (GPT-2's generate defaults).
import type { Rng } from '../rng.ts'
import { ModelInputError } from '../errors.ts'

export interface SampleOptions {
  /** 0 = greedy (argmax). @default 1 */
  temperature?: number
  /** keep only the k most likely tokens; 0 = all. @default 0 */
  topK?: number
}

export function argmax (logits: ArrayLike<number>): number {
  let best = 0
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i
  return best
}

export function sampleToken (logits: ArrayLike<number>, rng: Rng, opts: SampleOptions = {}): number {
  const temperature = opts.temperature ?? 1
  const topK = opts.topK ?? 0
  const V = logits.length
  if (V === 0) throw new ModelInputError('cannot sample from empty logits')
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new ModelInputError(`temperature must be a finite number ≥ 0, got ${temperature}`)
  if (!Number.isInteger(topK) || topK < 0) throw new ModelInputError(`topK must be an integer ≥ 0, got ${topK}`)
  if (temperature === 0) return argmax(logits)
  // Candidates: all tokens, or the top k (ties broken by lower id, so the choice is deterministic).
  let ids = Array.from({ length: V }, (_, i) => i)
  if (topK > 0 && topK < V) ids = ids.sort((a, b) => logits[b] - logits[a] || a - b).slice(0, topK)
  let max = -Infinity
  for (const i of ids) max = Math.max(max, logits[i])
  const w = ids.map(i => Math.exp((logits[i] - max) / temperature))
  const total = w.reduce((s, x) => s + x, 0)
  let u = rng() * total
  for (let j = 0; j < ids.length; j++) {
    u -= w[j]
    if (u < 0) return ids[j]
  }
  return ids[ids.length - 1] // rounding left u ≥ 0
}
