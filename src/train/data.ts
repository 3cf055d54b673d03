// Token datasets and the deterministic microbatch loader (DESIGN.md "Commands", `--no-shuffle`).
// Microbatch ids map to dataset windows by arithmetic alone, so stage 0 derives inputs and the
// last stage derives targets from the id, without talking to each other.
import { createRng, hashString } from '../model/rng.ts'
import { DataError } from './errors.ts'

/** `bytes`: UTF-8 bytes are tokens (vocab 256). `uint16`: little-endian token ids. */
export type TokenFormat = 'bytes' | 'uint16'

/** The format a file name implies: `.bin` is uint16 LE, anything else (`.txt`) bytes. */
export function formatOfPath (path: string): TokenFormat {
  return /\.bin$/i.test(path) ? 'uint16' : 'bytes'
}

export function decodeTokens (data: Uint8Array, format: TokenFormat): Uint32Array {
  if (format === 'bytes') return Uint32Array.from(data)
  if (data.byteLength % 2 !== 0) throw new DataError(`a uint16 token file needs an even byte count, got ${data.byteLength}`)
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const out = new Uint32Array(data.byteLength / 2)
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint16(2 * i, true)
  return out
}

export interface Microbatch {
  /** microbatch id */
  id: number
  /** (B, T) token ids */
  inputs: Uint32Array
  /** (B, T): inputs shifted by one */
  targets: Uint32Array
}

export interface LoaderInit {
  B: number
  T: number
  /** false = DESIGN's `--no-shuffle` order. @default false */
  shuffle?: boolean
  /** shuffled order's seed. @default 0 */
  seed?: number
  /** tokens must be below this. @default no check */
  vocab?: number
}

/**
 * Row b of microbatch i is window r = i·B + b. Without shuffle it starts at token r·T (with one
 * microbatch per step that is DESIGN's `(s*B + b)*T`), wrapping modulo n − T so every window has
 * its T + 1 tokens. Shuffled, the dataset is cut into W = ⌊(n−1)/T⌋ disjoint windows, and epoch
 * e = ⌊r/W⌋ visits them in a seeded permutation of its own.
 */
export class TokenLoader {
  readonly B: number
  readonly T: number
  readonly shuffle: boolean
  readonly seed: number
  /** disjoint windows per epoch (shuffled order) */
  readonly windows: number
  readonly #tokens: Uint32Array
  #epoch = -1
  #perm = new Uint32Array(0)

  constructor (tokens: Uint32Array, init: LoaderInit) {
    const { B, T } = init
    if (!Number.isInteger(B) || B < 1 || !Number.isInteger(T) || T < 1) throw new DataError(`B and T must be positive integers, got B=${B}, T=${T}`)
    if (tokens.length < T + 1) throw new DataError(`the dataset has ${tokens.length} tokens; a window needs T + 1 = ${T + 1}`)
    if (init.vocab != null) {
      for (let i = 0; i < tokens.length; i++) if (tokens[i] >= init.vocab) throw new DataError(`token ${tokens[i]} at ${i} is outside the vocabulary (${init.vocab})`)
    }
    this.B = B; this.T = T
    this.shuffle = init.shuffle ?? false
    this.seed = init.seed ?? 0
    this.windows = Math.floor((tokens.length - 1) / T)
    this.#tokens = tokens
  }

  /** First token of window r (row b of microbatch i is r = i·B + b). */
  windowStart (r: number): number {
    if (!Number.isSafeInteger(r) || r < 0) throw new DataError(`window index must be a non-negative integer, got ${r}`)
    if (!this.shuffle) return (r * this.T) % (this.#tokens.length - this.T)
    const epoch = Math.floor(r / this.windows)
    if (epoch !== this.#epoch) this.#permute(epoch)
    return this.#perm[r % this.windows] * this.T
  }

  microbatch (id: number): Microbatch {
    const { B, T } = this
    const inputs = new Uint32Array(B * T)
    const targets = new Uint32Array(B * T)
    for (let b = 0; b < B; b++) {
      const start = this.windowStart(id * B + b)
      inputs.set(this.#tokens.subarray(start, start + T), b * T)
      targets.set(this.#tokens.subarray(start + 1, start + T + 1), b * T)
    }
    return { id, inputs, targets }
  }

  #permute (epoch: number): void {
    const perm = Uint32Array.from({ length: this.windows }, (_, i) => i)
    const rng = createRng(hashString(`epoch ${epoch}`), this.seed >>> 0)
    for (let i = perm.length - 1; i > 0; i--) { // Fisher-Yates
      const j = Math.floor(rng() * (i + 1))
      const t = perm[i]; perm[i] = perm[j]; perm[j] = t
    }
    this.#epoch = epoch
    this.#perm = perm
  }
}
