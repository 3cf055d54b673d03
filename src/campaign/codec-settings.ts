// The manifest's optional `codec` section: how stage-boundary tensors are encoded on the wire
// (src/codec/, docs/compression.md). Absent, or `{ "name": "fp32" }`, means raw float32 as before,
// and is stored absent, so older manifests (and their content-addressed ids) are unchanged.
import { CODEC_NAMES, type CodecName } from '../codec/codec.ts'

export interface CodecSettings {
  /** `fp32` (raw float32) or `q8` (per-token absmax int8, ~4× fewer bytes). @default 'fp32' */
  name: CodecName
}

export const CODEC_DEFAULTS: CodecSettings = { name: 'fp32' }

/** The effective codec of a (validated) manifest. */
export function codecSettingsOf (m: { codec?: CodecSettings }): CodecSettings {
  return { ...CODEC_DEFAULTS, ...m.codec }
}

/** Checks a manifest's `codec` section; returns the cleaned section (undefined for the default) and field errors. */
export function validateCodecSettings (input: unknown): { value: CodecSettings | undefined, errors: Array<{ path: string, message: string }> } {
  if (input === undefined) return { value: undefined, errors: [] }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { value: undefined, errors: [{ path: 'codec', message: 'must be an object' }] }
  const errors: Array<{ path: string, message: string }> = []
  for (const k of Object.keys(input)) if (k !== 'name') errors.push({ path: `codec.${k}`, message: 'is not a codec setting' })
  const name = (input as { name?: unknown }).name
  if (typeof name !== 'string' || !(CODEC_NAMES as readonly string[]).includes(name)) errors.push({ path: 'codec.name', message: `must be one of ${CODEC_NAMES.join(', ')}` })
  if (errors.length > 0) return { value: undefined, errors }
  return { value: name === 'fp32' ? undefined : { name: name as CodecName }, errors }
}
