// A boundary codec turns a stage-boundary tensor (activations going forward, their gradients going
// back) into the bytes that cross the wire, and back. The campaign picks one (manifest `codec`);
// the tensor header names it with its parameters (net/tensor-wire.ts), so a receiver decodes
// exactly what the sender encoded, and digests and receipts cover the encoded bytes.
//
// Every codec here is plain TypeScript doing its arithmetic in float64: that is the reference the
// WGSL kernels (shaders/q8.wgsl) are tested against.

/** The codecs a campaign can choose. `fp32` is the raw float32 payload (what every tab sent before codecs). */
export type CodecName = 'fp32' | 'q8'
export const CODEC_NAMES: readonly CodecName[] = ['fp32', 'q8']

/** How a q8 value is rounded: to nearest (activations) or stochastically, unbiased (gradients). */
export type Rounding = 'nearest' | 'stochastic'

/**
 * What a tensor header says about its payload's encoding. Absent means fp32 (headers from before
 * codecs). `seed` is the u32 that drove stochastic rounding: with it, anyone can re-encode the
 * sender's tensor bit for bit.
 */
export type WireCodec =
  | { name: 'fp32' }
  | { name: 'q8', rounding: 'nearest' }
  | { name: 'q8', rounding: 'stochastic', seed: number }

/** One codec: sizes, encoding (with its rounding parameters) and decoding. */
export interface Codec {
  readonly name: CodecName
  /** Payload bytes of a tensor of `shape` (last dimension = a row, e.g. one token's C channels). */
  encodedBytes(shape: readonly number[]): number
  /** Encodes `data` (row-major, `shape`). Throws CodecError on non-finite input. */
  encode(data: Float32Array, shape: readonly number[], wire: WireCodec): Uint8Array
  /** Decodes a payload; refuses (CodecError) a wrong length or a hostile parameter before trusting it. */
  decode(payload: Uint8Array, shape: readonly number[]): Float32Array
}

/** Elements of `shape` (each dimension a positive integer; the caller bounded the product). */
export function elementsOf (shape: readonly number[]): number {
  let n = 1
  for (const d of shape) n *= d
  return n
}
