// FLOPs and throughput accounting of training steps, with the credit unit of work receipts
// (config.ts stageFlops: the 2N rule plus causal attention, backward = 2 × forward).
import { splitStages, stageFlops, type GPTConfig, type StageRange } from '../model/config.ts'

export interface StepFlops {
  /** tokens of one optimizer step: accumulation · B · T */
  tokens: number
  forward: number
  backward: number
  total: number
}

/**
 * FLOPs of one optimizer step over `ranges` (default: the whole model). The sum over any split
 * equals the unsplit model's: every term is per layer or per head/embedding tensor.
 */
export function stepFlops (config: GPTConfig, B: number, T: number, accumulation = 1, ranges: StageRange[] = splitStages(config, 1)): StepFlops {
  let forward = 0
  for (const r of ranges) forward += stageFlops(config, r, B, T).forward
  forward *= accumulation
  return { tokens: accumulation * B * T, forward, backward: 2 * forward, total: 3 * forward }
}

export interface ThroughputSample {
  tokens: number
  flops: number
  /** wall-clock milliseconds the work took */
  ms: number
}

/** Tokens/s and FLOP/s over the last `window` steps (the first, compile-heavy steps fall out). */
export class ThroughputMeter {
  readonly window: number
  readonly #samples: ThroughputSample[] = []

  /** @param window steps averaged. @default 20 */
  constructor (window = 20) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer, got ${window}`)
    this.window = window
  }

  add (sample: ThroughputSample): void {
    this.#samples.push(sample)
    if (this.#samples.length > this.window) this.#samples.shift()
  }

  get tokensPerSecond (): number {
    return this.#rate(s => s.tokens)
  }

  get flopsPerSecond (): number {
    return this.#rate(s => s.flops)
  }

  #rate (f: (s: ThroughputSample) => number): number {
    let work = 0; let ms = 0
    for (const s of this.#samples) { work += f(s); ms += s.ms }
    return ms > 0 ? work / ms * 1000 : 0
  }
}
