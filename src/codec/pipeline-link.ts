// The in-process pipeline's link (train/pipeline.ts localLink) with a boundary codec in between:
// what the next stage receives is what a swarm peer would decode from the wire. For convergence
// checks (bench-codec) and tests, without a network.
import type { PipelineStage, StageLink } from '../train/pipeline.ts'
import { BoundaryEncoder } from './boundary.ts'
import type { CodecName } from './codec.ts'
import { codecOf } from './registry.ts'

export interface CodecLinkStats {
  /** Payload bytes sent, by direction. */
  bytes: { activations: number, gradients: number }
  tensors: number
  encodeMs: number
  decodeMs: number
}

/** A link from stage `from` to `to` that encodes with `codec` and decodes at the receiver. */
export function codecLink (to: PipelineStage, init: { codec: CodecName, campaignSeed: number, from: number, shape: readonly number[] }, stats?: CodecLinkStats): StageLink {
  const encoder = new BoundaryEncoder({ codec: init.codec, campaignSeed: init.campaignSeed, stage: init.from, shape: init.shape })
  const codec = codecOf(init.codec)
  const carry = (kind: 'activations' | 'gradients', mb: number, x: Float32Array): Float32Array => {
    const t0 = performance.now()
    const wire = encoder.encode(kind, mb, x)
    const t1 = performance.now()
    // A copy either way, as a network would make: the receiver shares no memory with the sender.
    const y = codec.decode(wire.payload, init.shape)
    if (stats != null) {
      stats.bytes[kind] += wire.payload.byteLength
      stats.tensors++
      stats.encodeMs += t1 - t0
      stats.decodeMs += performance.now() - t1
    }
    return y
  }
  return {
    sendActivations: async (mb, x) => { await to.onActivations(mb, carry('activations', mb, x)) },
    sendGradients: async (mb, dx) => { await to.onGradients(mb, carry('gradients', mb, dx)) }
  }
}
