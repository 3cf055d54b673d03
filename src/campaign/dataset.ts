// A campaign's dataset: fetched, checked against the manifest's sha256 and decoded to token ids.
// train/data.ts's TokenLoader cuts it into microbatch windows by id alone (DESIGN.md).
import type { DatasetSection } from './manifest.ts'
import { decodeTokens } from '../train/data.ts'

export class DatasetError extends Error {
  override name = 'DatasetError'
}

async function sha256Hex (bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))
  return [...d].map(b => b.toString(16).padStart(2, '0')).join('')
}

/** Fetches the dataset (with progress), checks its size and digest, and decodes it. */
export async function loadDataset (d: DatasetSection, opts: { origin?: string, onProgress?: (loaded: number, total: number) => void, signal?: AbortSignal } = {}): Promise<Uint32Array> {
  const res = await fetch(new URL(d.url, opts.origin ?? globalThis.location?.origin), { signal: opts.signal ?? AbortSignal.timeout(120_000) })
  if (!res.ok || res.body == null) throw new DatasetError(`dataset ${d.url}: HTTP ${res.status}`)
  const out = new Uint8Array(d.bytes)
  let loaded = 0
  const reader = res.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    if (loaded + value.length > d.bytes) throw new DatasetError(`dataset ${d.url} is larger than the manifest's ${d.bytes} bytes`)
    out.set(value, loaded)
    loaded += value.length
    opts.onProgress?.(loaded, d.bytes)
  }
  if (loaded !== d.bytes) throw new DatasetError(`dataset ${d.url} has ${loaded} bytes, the manifest says ${d.bytes}`)
  const digest = await sha256Hex(out)
  if (digest !== d.sha256) throw new DatasetError(`dataset ${d.url} has sha256 ${digest}, the manifest says ${d.sha256}: refusing to train on different data`)
  return decodeTokens(out, d.format)
}

/**
 * The training windows and the held-out validation windows of a loaded dataset (the last
 * `validation_tokens` ids). Stage 0 and the last stage build their TokenLoader over `train`; an
 * evaluation pass reads fixed windows of `validation` (src/train/evaluate.ts).
 */
export function datasetSplits (tokens: Uint32Array, d: DatasetSection): { train: Uint32Array, validation: Uint32Array | null } {
  const held = d.validation_tokens ?? 0
  if (held === 0) return { train: tokens, validation: null }
  if (held >= tokens.length) throw new DatasetError(`dataset ${d.url}: validation_tokens ${held} leaves no training tokens of ${tokens.length}`)
  return { train: tokens.subarray(0, tokens.length - held), validation: tokens.subarray(tokens.length - held) }
}
