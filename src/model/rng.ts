// Deterministic randomness for init and tests: FNV-1a string hash, sfc32 uniform PRNG, Box-Muller normals.
// Plain 32-bit integer maths, so every JS engine produces the same bits.

/** FNV-1a, 32 bit, over the UTF-16 code units of s (names are ASCII). */
export function hashString (s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export type Rng = () => number

/** Uniform in [0, 1) from sfc32 (PractRand-clean, 128-bit state) seeded by two 32-bit words. */
export function createRng (seedA: number, seedB = 0x9e3779b9): Rng {
  let a = seedA >>> 0
  let b = seedB >>> 0
  let c = (seedA ^ 0xdeadbeef) >>> 0
  let d = 1
  const next = (): number => {
    d = (d + 1) | 0
    const t = (((a + b) | 0) + d) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
  for (let i = 0; i < 12; i++) next() // mix the seed in before use
  return next
}

/** Standard normal samples by Box-Muller, both outputs of each pair used. */
export function fillNormal (out: Float64Array | Float32Array, rng: Rng, std = 1, mean = 0): void {
  for (let i = 0; i < out.length; i += 2) {
    const u1 = 1 - rng() // (0, 1]: log stays finite
    const u2 = rng()
    const r = Math.sqrt(-2 * Math.log(u1))
    out[i] = mean + std * r * Math.cos(2 * Math.PI * u2)
    if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2)
  }
}

/** n standard-normal float64 values from a seed (test inputs). */
export function randn (n: number, seed: number, std = 1): Float64Array {
  const out = new Float64Array(n)
  fillNormal(out, createRng(seed), std)
  return out
}
