// A fine-tuning campaign's seed weights for this tab's stage (`GET /api/campaigns/:id/seed`,
// tracker/checkpoint-routes.ts): the researcher's published checkpoint, cut to the stage. The call
// is signed with the tab's libp2p key, since the tracker serves a shard only to a tab it has on
// that stage. The shard is checked against the manifest's config and this stage's range before a
// byte of it reaches the GPU.
import type { PrivateKey } from '@libp2p/interface'
import { createSignedFetch, type SignedFetch } from './signed-fetch.ts'
import { importStage } from '../../model/checkpoint.ts'
import type { GPTConfig, StageRange } from '../../model/config.ts'
import { TrackerError } from './tracker-client.ts'

export interface SeedRequest {
  origin: string
  campaign: string
  peerId: string
  privateKey: PrivateKey
  config: GPTConfig
  range: StageRange
  /** Told bytes received and the total, when the tracker states it. */
  onProgress?: (loaded: number, total: number) => void
  /** @default 120000: a GPT-2 124M stage shard is up to ~250 MB */
  timeoutMs?: number
  /** @default Date.now */
  now?: () => number
  /** Signed requests sharing the swarm client's clock offset. @default its own */
  signed?: SignedFetch
}

/** The stage's seed parameters in our flat layout. Throws TrackerError for a refusal, CheckpointError for a shard that does not fit. */
export async function fetchSeedShard (r: SeedRequest): Promise<Float32Array> {
  const url = `${r.origin.replace(/\/$/, '')}/api/campaigns/${r.campaign}/seed`
  const signed = r.signed ?? createSignedFetch({ peerId: r.peerId, privateKey: r.privateKey, now: r.now })
  const res = await signed.request('GET', url, { timeoutMs: r.timeoutMs ?? 120_000 })
  if (!res.ok) {
    const json = await res.json().catch(() => ({})) as { error?: string }
    throw new TrackerError(res.status, `seed weights refused: ${json.error ?? `HTTP ${res.status}`}`)
  }
  const bytes = await readAll(res, r.onProgress)
  return importStage(bytes, { config: r.config, range: r.range }).params
}

async function readAll (res: Response, onProgress?: (loaded: number, total: number) => void): Promise<Uint8Array> {
  const total = Number(res.headers.get('content-length') ?? NaN)
  if (res.body == null || !Number.isFinite(total)) return new Uint8Array(await res.arrayBuffer())
  const out = new Uint8Array(total)
  let loaded = 0
  const reader = res.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    if (loaded + value.length > total) throw new TrackerError(502, 'seed weights: more bytes than the tracker announced')
    out.set(value, loaded)
    loaded += value.length
    onProgress?.(loaded, total)
  }
  if (loaded !== total) throw new TrackerError(502, `seed weights: got ${loaded} of ${total} bytes`)
  return out
}
