// Codecs by name, and the check of a header's `codec` field (peer input: exact keys, known values).
import { CodecError } from './errors.ts'
import { CODEC_NAMES, type Codec, type CodecName, type WireCodec } from './codec.ts'
import { fp32 } from './fp32.ts'
import { q8 } from './q8.ts'

const CODECS: Readonly<Record<CodecName, Codec>> = { fp32, q8 }

export function codecOf (name: CodecName): Codec {
  return CODECS[name]
}

/** A header's `codec` value, checked as hostile input; throws CodecError naming what is wrong. */
export function parseWireCodec (value: unknown): WireCodec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CodecError('codec is not an object')
  const v = value as Record<string, unknown>
  if (typeof v.name !== 'string' || !(CODEC_NAMES as readonly string[]).includes(v.name)) throw new CodecError(`unknown codec ${String(v.name).slice(0, 20)}`)
  const keys = Object.keys(v)
  const allow = (...k: string[]): void => {
    const extra = keys.find(x => !k.includes(x))
    if (extra !== undefined) throw new CodecError(`codec ${v.name as string} has no parameter ${JSON.stringify(extra).slice(0, 40)}`)
  }
  if (v.name === 'fp32') { allow('name'); return { name: 'fp32' } }
  if (v.rounding === 'nearest') { allow('name', 'rounding'); return { name: 'q8', rounding: 'nearest' } }
  if (v.rounding === 'stochastic') {
    allow('name', 'rounding', 'seed')
    if (!Number.isInteger(v.seed) || (v.seed as number) < 0 || (v.seed as number) > 0xffffffff) throw new CodecError('q8 seed is not a u32')
    return { name: 'q8', rounding: 'stochastic', seed: v.seed as number }
  }
  throw new CodecError(`unknown q8 rounding ${String(v.rounding).slice(0, 20)}`)
}
