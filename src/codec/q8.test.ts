import { describe, expect, it } from 'vitest'
import { q8Decode, q8Encode, q8EncodedBytes, Q8_MAX } from './q8.ts'
import { fp32 } from './fp32.ts'
import type { WireCodec } from './codec.ts'

const NEAREST: WireCodec = { name: 'q8', rounding: 'nearest' }
const stochastic = (seed: number): WireCodec => ({ name: 'q8', rounding: 'stochastic', seed })

/** Deterministic test data with a spread of magnitudes per row. */
function data (rows: number, cols: number, seed = 1): Float32Array {
  const out = new Float32Array(rows * cols)
  let s = seed
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    out[i] = ((s / 2 ** 32) - 0.5) * 2 ** ((i % 7) - 3)
  }
  return out
}

/** Worst |x − x̂| / s per row, in units of the row's scale. */
function worstInQuanta (x: Float32Array, y: Float32Array, rows: number, cols: number): number {
  let worst = 0
  for (let r = 0; r < rows; r++) {
    let absmax = 0
    for (let c = 0; c < cols; c++) absmax = Math.max(absmax, Math.abs(x[r * cols + c]))
    const s = Math.fround(absmax / Q8_MAX)
    for (let c = 0; c < cols; c++) if (s > 0) worst = Math.max(worst, Math.abs(x[r * cols + c] - y[r * cols + c]) / s)
  }
  return worst
}

describe('q8 codec (float64 reference)', () => {
  const shapes: Array<[number[], number, number]> = [[[4, 16, 64], 64, 64], [[3, 5, 7], 15, 7], [[1, 1, 1], 1, 1], [[2, 33], 2, 33], [[1, 3, 257], 3, 257]]

  it('round to nearest: within half a quantum of the row scale, on odd and aligned shapes', () => {
    for (const [shape, rows, cols] of shapes) {
      const x = data(rows, cols)
      const enc = q8Encode(x, shape, NEAREST)
      expect(enc.byteLength).toBe(q8EncodedBytes(shape))
      expect(enc.byteLength).toBe(rows * (4 + cols))
      const y = q8Decode(enc, shape)
      const worst = worstInQuanta(x, y, rows, cols)
      expect(worst, `shape ${shape.join('x')}`).toBeLessThanOrEqual(0.5 + 1e-5)
    }
  })

  it('stochastic: within one quantum, and bit-identical for the same input and seed', () => {
    for (const [shape, rows, cols] of shapes) {
      const x = data(rows, cols, 7)
      const a = q8Encode(x, shape, stochastic(42))
      expect(q8Encode(x, shape, stochastic(42))).toEqual(a)
      expect(worstInQuanta(x, q8Decode(a, shape), rows, cols)).toBeLessThan(1 + 1e-5)
    }
    // A different seed draws differently.
    const x = data(16, 64, 3)
    expect(q8Encode(x, [16, 64], stochastic(1))).not.toEqual(q8Encode(x, [16, 64], stochastic(2)))
  })

  it('stochastic rounding is unbiased: the mean error over many seeds tends to 0, nearest is biased', () => {
    // Values between quanta, where nearest rounding is off by a fixed amount.
    const cols = 8
    const x = Float32Array.from([1, 0.3, -0.71, 0.5049, 0.111, -0.0049, 0.9, -0.2501])
    const s = Math.fround(1 / Q8_MAX)
    const draws = 4000
    const mean = new Float64Array(cols)
    for (let seed = 0; seed < draws; seed++) {
      const y = q8Decode(q8Encode(x, [1, cols], stochastic(seed)), [1, cols])
      for (let c = 0; c < cols; c++) mean[c] += (y[c] - x[c]) / draws
    }
    const near = q8Decode(q8Encode(x, [1, cols], NEAREST), [1, cols])
    for (let c = 0; c < cols; c++) {
      // Bernoulli draws: standard error ≤ s / (2·√draws) ≈ 0.008 s; allow 5 of them.
      expect(Math.abs(mean[c]), `element ${c}`).toBeLessThan(5 * s / (2 * Math.sqrt(draws)))
    }
    // Nearest rounding's error on element 1 is a fixed fraction of a quantum: far above that noise.
    expect(Math.abs(near[1] - x[1])).toBeGreaterThan(0.1 * s)
  })

  it('zeros, all-equal rows, and a single element', () => {
    const zeros = new Float32Array(3 * 5)
    const z = q8Encode(zeros, [3, 5], stochastic(9))
    expect(q8Decode(z, [3, 5])).toEqual(zeros)
    const equal = new Float32Array(2 * 6).fill(-2.5)
    expect(q8Decode(q8Encode(equal, [2, 6], NEAREST), [2, 6])).toEqual(equal) // absmax maps to ±127 exactly
    expect(q8Decode(q8Encode(Float32Array.of(3e-3), [1], stochastic(5)), [1])[0]).toBeCloseTo(3e-3, 8)
    // Tiny rows whose scale underflows float32 decode to zero, not NaN.
    const tiny = Float32Array.of(1e-44, -1e-44)
    expect(Array.from(q8Decode(q8Encode(tiny, [2], NEAREST), [2]))).toEqual([0, 0])
  })

  it('refuses non-finite input when encoding', () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      expect(() => q8Encode(Float32Array.of(1, bad), [2], NEAREST)).toThrow(expect.objectContaining({ name: 'CodecError' }))
    }
    expect(() => q8Encode(new Float32Array(5), [2, 3], NEAREST)).toThrow(expect.objectContaining({ name: 'CodecError' }))
  })

  it('refuses hostile payloads: wrong lengths, NaN / infinite / negative / huge scales, −128', () => {
    const shape = [2, 4]
    const good = q8Encode(data(2, 4), shape, NEAREST)
    const refuse = (p: Uint8Array): void => { expect(() => q8Decode(p, shape)).toThrow(expect.objectContaining({ name: 'CodecError' })) }
    refuse(good.subarray(0, good.length - 1))
    refuse(Uint8Array.from([...good, 0]))
    refuse(new Uint8Array(0))
    for (const scale of [NaN, Infinity, -1, 1e37]) {
      const p = good.slice()
      new DataView(p.buffer).setFloat32(4, scale, true)
      refuse(p)
    }
    const p = good.slice()
    p[8 + 3] = 0x80 // int8 −128
    refuse(p)
    expect(q8Decode(good, shape)).toHaveLength(8) // the untouched payload still decodes
  })

  it('reads a payload at an odd byte offset (a frame buffer slice)', () => {
    const x = data(3, 5)
    const enc = q8Encode(x, [3, 5], NEAREST)
    const shifted = new Uint8Array(enc.length + 1)
    shifted.set(enc, 1)
    expect(q8Decode(shifted.subarray(1), [3, 5])).toEqual(q8Decode(enc, [3, 5]))
  })

  it('q8 is ~4× smaller than fp32 (3.76× at C = 64)', () => {
    expect(fp32.encodedBytes([4, 16, 64]) / q8EncodedBytes([4, 16, 64])).toBeCloseTo(256 / 68, 10)
  })
})
