// A stage's encoder for what it sends across a boundary: the campaign's codec, with round-to-nearest
// for activations and seeded stochastic rounding for gradients. The stage signs the digest of the
// encoded bytes before sending them, and may send the same tensor again (a re-route, a spot-check
// copy), so encodings are kept per tensor: each is computed once and is the same bytes every time.
import type { CodecName, WireCodec } from './codec.ts'
import { codecOf } from './registry.ts'
import { roundingSeed } from './rounding.ts'

/** A tensor as it crosses the wire. `codec` null: raw float32 with no codec in the header (fp32, as before codecs). */
export interface WireTensor {
  codec: WireCodec | null
  payload: Uint8Array
}

export interface BoundaryEncoderInit {
  /** The campaign's codec. @default 'fp32' */
  codec?: CodecName
  /** The campaign's seed (training.seed): stochastic rounding derives from it. */
  campaignSeed: number
  /** The sending stage. */
  stage: number
  /** (B, T, C) of every boundary tensor. */
  shape: readonly number[]
}

export class BoundaryEncoder {
  readonly codec: CodecName
  readonly #init: BoundaryEncoderInit
  /** The last encoding of each tensor, with what it was encoded as (a pooled array may come back as another microbatch's). */
  readonly #done = new WeakMap<Float32Array, { kind: string, mb: number, wire: WireTensor }>()

  constructor (init: BoundaryEncoderInit) {
    this.codec = init.codec ?? 'fp32'
    this.#init = init
  }

  /** The wire form of `data`, microbatch `mb`'s activations or gradients. */
  encode (kind: 'activations' | 'gradients', mb: number, data: Float32Array): WireTensor {
    const done = this.#done.get(data)
    if (done != null && done.kind === kind && done.mb === mb) return done.wire
    let wire: WireTensor
    if (this.codec === 'fp32') {
      wire = { codec: null, payload: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }
    } else {
      const codec: WireCodec = kind === 'gradients'
        ? { name: 'q8', rounding: 'stochastic', seed: roundingSeed(this.#init.campaignSeed, mb, this.#init.stage, kind) }
        : { name: 'q8', rounding: 'nearest' }
      wire = { codec, payload: codecOf(this.codec).encode(data, this.#init.shape, codec) }
    }
    this.#done.set(data, { kind, mb, wire })
    return wire
  }

  /** Payload bytes of one boundary tensor. */
  get payloadBytes (): number { return codecOf(this.codec).encodedBytes(this.#init.shape) }
}
