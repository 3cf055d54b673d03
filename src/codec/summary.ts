// What a campaign's codec means in bytes, for the new-campaign form, the campaign page and the dashboard.
import type { CodecName } from './codec.ts'
import { codecOf } from './registry.ts'

export interface BoundaryBytes {
  codec: CodecName
  /** Payload bytes of one boundary tensor (B, T, C). */
  tensorBytes: number
  /** Activations forward plus gradients back, per token, for one stage boundary. */
  perToken: number
  /** The same with fp32. */
  fp32PerToken: number
  /** fp32 bytes / these bytes. */
  ratio: number
}

export function boundaryBytes (codec: CodecName, B: number, T: number, C: number): BoundaryBytes {
  const shape = [B, T, C]
  const tensorBytes = codecOf(codec).encodedBytes(shape)
  const fp32Bytes = codecOf('fp32').encodedBytes(shape)
  return { codec, tensorBytes, perToken: 2 * tensorBytes / (B * T), fp32PerToken: 2 * fp32Bytes / (B * T), ratio: fp32Bytes / tensorBytes }
}

/** "q8: 136 B per token per boundary (3.8× fewer than fp32)". */
export function describeBoundaryBytes (b: BoundaryBytes): string {
  const per = `${b.perToken.toFixed(0)} B per token per boundary`
  return b.codec === 'fp32' ? `fp32: ${per}` : `${b.codec}: ${per} (${b.ratio.toFixed(1)}× fewer than fp32's ${b.fp32PerToken.toFixed(0)})`
}
