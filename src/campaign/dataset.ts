// A campaign's dataset: fetched, checked against the manifest's sha256, decoded to token ids, and
// cut into microbatch windows. Microbatch ids map deterministically to windows, so stage 0 derives
// inputs and the last stage derives targets from the id alone (DESIGN.md).
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

export interface Window {
  /** (B, T) token ids */
  inputs: Uint32Array
  /** (B, T) the next token of each input */
  targets: Uint32Array
}

/**
 * Row b of microbatch m reads T+1 tokens from offset ((m·B + b)·T) mod (N − T): consecutive
 * microbatches walk the corpus in order and wrap. This is the CLI's `--no-shuffle` order with
 * m = step·A + a, so a swarm and a single tab see identical data.
 */
export function microbatchWindow (tokens: Uint32Array, m: number, B: number, T: number): Window {
  const span = tokens.length - T
  if (span < 1) throw new DatasetError(`the dataset has ${tokens.length} tokens; it needs more than T = ${T}`)
  const inputs = new Uint32Array(B * T)
  const targets = new Uint32Array(B * T)
  for (let b = 0; b < B; b++) {
    const off = ((m * B + b) * T) % span
    inputs.set(tokens.subarray(off, off + T), b * T)
    targets.set(tokens.subarray(off + 1, off + T + 1), b * T)
  }
  return { inputs, targets }
}
