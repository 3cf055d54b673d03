// A small seeded PRNG (mulberry32) so a simulation replays exactly from its seed.
export class Rng {
  #s: number
  constructor (seed: number) { this.#s = seed >>> 0 }

  /** Uniform in [0, 1). */
  next (): number {
    let t = (this.#s += 0x6D2B79F5) >>> 0
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  uniform (a: number, b: number): number { return a + (b - a) * this.next() }

  /** Standard normal (Box–Muller). */
  normal (): number { return Math.sqrt(-2 * Math.log(1 - this.next())) * Math.cos(2 * Math.PI * this.next()) }

  /** Exponential waiting time (ms) for a rate per ms. */
  exponential (rate: number): number { return -Math.log(1 - this.next()) / rate }
}
