// The volunteer's checkpoint of one campaign: the stage it trains and that stage's weights with
// their step, in `<data dir>/campaigns/<id>.ckpt` — what the tab keeps in IndexedDB. One file,
// written atomically, with a digest: a torn or foreign file is ignored, never trained on.
//
// Layout: `tabgrad-stage-ckpt 1\n`, one JSON line { campaign, stage, step, elements, sha256 },
// then `elements` little-endian float32s.
import { mkdir, readFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { writeAtomic } from '../cli/write-atomic.ts'
import type { Weights } from '../net/weights.ts'

const MAGIC = 'tabgrad-stage-ckpt 1\n'
const MAX_HEADER = 1024

export interface StageCheckpoint {
  campaign: string
  /** 0-based stage. */
  stage: number
  weights: Weights
}

export function checkpointPath (dataDir: string, campaign: string): string {
  return join(dataDir, 'campaigns', `${campaign}.ckpt`)
}

const digest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

export function encodeCheckpoint (c: StageCheckpoint): Uint8Array {
  const p = c.weights.params
  const body = new Uint8Array(p.buffer, p.byteOffset, p.byteLength)
  const header = JSON.stringify({ campaign: c.campaign, stage: c.stage, step: c.weights.step, elements: p.length, sha256: digest(body) })
  const head = new TextEncoder().encode(`${MAGIC}${header}\n`)
  const out = new Uint8Array(head.length + body.length)
  out.set(head)
  out.set(body, head.length)
  return out
}

/** The checkpoint in `bytes`, or the reason it cannot be used. */
export function decodeCheckpoint (bytes: Uint8Array, campaign: string): StageCheckpoint | { error: string } {
  const magic = new TextEncoder().encode(MAGIC)
  if (bytes.length < magic.length || magic.some((b, i) => bytes[i] !== b)) return { error: 'not a tabgrad stage checkpoint' }
  const nl = bytes.indexOf(10, magic.length)
  if (nl < 0 || nl - magic.length > MAX_HEADER) return { error: 'its header is cut off' }
  let h: Record<string, unknown>
  try {
    h = JSON.parse(new TextDecoder().decode(bytes.subarray(magic.length, nl))) as Record<string, unknown>
  } catch {
    return { error: 'its header is not JSON' }
  }
  const { stage, step, elements, sha256 } = h
  if (h.campaign !== campaign) return { error: 'it belongs to another campaign' }
  if (!Number.isSafeInteger(stage) || (stage as number) < 0 || !Number.isSafeInteger(step) || (step as number) < 0 || !Number.isSafeInteger(elements) || (elements as number) <= 0) return { error: 'its header has bad numbers' }
  const body = bytes.subarray(nl + 1)
  if (body.length !== 4 * (elements as number)) return { error: `it holds ${body.length} bytes of weights, its header says ${4 * (elements as number)}` }
  if (digest(body) !== sha256) return { error: 'its weights do not match their digest' }
  // Copy into an aligned buffer of its own (the body starts at an arbitrary offset).
  const params = new Float32Array(elements as number)
  new Uint8Array(params.buffer).set(body)
  return { campaign, stage: stage as number, weights: { step: step as number, params } }
}

export async function saveCheckpoint (dataDir: string, c: StageCheckpoint): Promise<void> {
  const path = checkpointPath(dataDir, c.campaign)
  await mkdir(join(dataDir, 'campaigns'), { recursive: true, mode: 0o700 })
  await writeAtomic(path, encodeCheckpoint(c))
}

/** The saved checkpoint; null when there is none; `{ error }` when there is one we must not use. */
export async function loadCheckpoint (dataDir: string, campaign: string): Promise<StageCheckpoint | null | { error: string }> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(checkpointPath(dataDir, campaign))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    return { error: (err as Error).message }
  }
  return decodeCheckpoint(bytes, campaign)
}
