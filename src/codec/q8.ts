// q8: per-token absmax int8. Each row of the last dimension (one token's C channels) gets a
// float32 scale s = max|x| / 127 and C int8 values q with x ≈ q·s. Activations round to nearest
// (|error| ≤ s/2); gradients round stochastically, q = ⌊x/s + u⌋ with u uniform in [0, 1), so
// E[q·s] = x (unbiased, |error| < s), as 8-bit SWARM/Petals-style training does.
//
// Payload, for R rows of C: R float32 scales (LE), then R·C int8 values, row-major:
//   4·R + R·C bytes, against 4·R·C for fp32 (3.76× fewer at C = 64, → 4× as C grows).
// This file is also the float64 reference for the WGSL kernels (shaders/q8.wgsl).
import { CodecError } from './errors.ts'
import { elementsOf, type Codec, type WireCodec } from './codec.ts'
import { uniform24 } from './rounding.ts'

export const Q8_MAX = 127
/** The largest scale whose ±127 multiple is still a finite float32. */
const MAX_SCALE = 3.4028234663852886e38 / Q8_MAX

/** Rows and row length (C) of a tensor of `shape`. */
export function rowsOf (shape: readonly number[]): { rows: number, cols: number } {
  const cols = shape[shape.length - 1]
  return { rows: elementsOf(shape) / cols, cols }
}

export function q8EncodedBytes (shape: readonly number[]): number {
  const { rows, cols } = rowsOf(shape)
  return rows * (4 + cols)
}

/** Float32 scale of one row (absmax / 127); throws on a non-finite element. */
export function rowScale (data: Float32Array, start: number, cols: number): number {
  let absmax = 0
  for (let c = 0; c < cols; c++) {
    const a = Math.abs(data[start + c])
    if (!Number.isFinite(a)) throw new CodecError(`q8 cannot encode a non-finite value (row starting at element ${start})`)
    if (a > absmax) absmax = a
  }
  return Math.fround(absmax / Q8_MAX)
}

/** The int8 value of x at scale s (s > 0), rounded to nearest or with draw u (stochastic). */
export function quantize (x: number, s: number, u: number | null): number {
  const y = x / s
  const q = u == null ? Math.floor(y + 0.5) : Math.floor(y + u)
  return Math.max(-Q8_MAX, Math.min(Q8_MAX, q))
}

export function q8Encode (data: Float32Array, shape: readonly number[], wire: WireCodec): Uint8Array {
  if (wire.name !== 'q8') throw new CodecError(`q8 cannot encode as ${wire.name}`)
  const { rows, cols } = rowsOf(shape)
  if (data.length !== rows * cols) throw new CodecError(`q8: ${data.length} elements for shape [${shape.join(', ')}]`)
  const out = new Uint8Array(rows * (4 + cols))
  const scales = new DataView(out.buffer)
  const values = new Int8Array(out.buffer, 4 * rows)
  const seed = wire.rounding === 'stochastic' ? wire.seed : null
  for (let r = 0; r < rows; r++) {
    const start = r * cols
    const s = rowScale(data, start, cols)
    scales.setFloat32(4 * r, s, true)
    if (s === 0) continue // an all-zero row (or one too small for a float32 scale): q = 0
    for (let c = 0; c < cols; c++) {
      const i = start + c
      values[i] = quantize(data[i], s, seed == null ? null : uniform24(seed, i))
    }
  }
  return out
}

export function q8Decode (payload: Uint8Array, shape: readonly number[]): Float32Array {
  const { rows, cols } = rowsOf(shape)
  const expect = rows * (4 + cols)
  if (payload.byteLength !== expect) throw new CodecError(`q8 payload of ${payload.byteLength} bytes, shape [${shape.join(', ')}] needs ${expect}`)
  const scales = new DataView(payload.buffer, payload.byteOffset, 4 * rows)
  const values = new Int8Array(payload.buffer, payload.byteOffset + 4 * rows, rows * cols)
  const out = new Float32Array(rows * cols)
  for (let r = 0; r < rows; r++) {
    const s = scales.getFloat32(4 * r, true)
    // A hostile scale would turn into NaN or ±Infinity activations downstream: refuse it here.
    if (!(s >= 0 && s <= MAX_SCALE)) throw new CodecError(`q8 scale ${s} of row ${r} is not a finite non-negative number`)
    for (let c = 0; c < cols; c++) {
      const q = values[r * cols + c]
      if (q < -Q8_MAX) throw new CodecError(`q8 value ${q} in row ${r} is outside ±${Q8_MAX}`)
      out[r * cols + c] = q * s
    }
  }
  return out
}

export const q8: Codec = { name: 'q8', encodedBytes: q8EncodedBytes, encode: q8Encode, decode: q8Decode }
