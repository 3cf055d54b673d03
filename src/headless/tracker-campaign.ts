// What the volunteer learns from the tracker before it joins: the campaign's manifest (checked to
// hash to the link's id, so a tracker cannot hand out different training than the link names) and
// the relay's multiaddrs. Every failure is a SetupError with one line saying what to fix.
import { campaignId, validateManifest, type CampaignManifest } from '../campaign/manifest.ts'
import { BadCampaignError, TrackerUnreachableError } from './errors.ts'
import { TRACKER_TIMEOUT_MS } from './constants.ts'

export interface TrackerCampaign {
  manifest: CampaignManifest
  /** The relay's multiaddrs, each ending in /p2p/<relay PeerId>. */
  relayAddrs: string[]
}

async function getJson (origin: string, path: string, signal?: AbortSignal): Promise<{ status: number, body: unknown }> {
  let res: Response
  try {
    res = await fetch(`${origin}${path}`, { signal: signal ?? AbortSignal.timeout(TRACKER_TIMEOUT_MS) })
  } catch (err) {
    const e = err as Error & { cause?: { code?: string, message?: string } }
    const why = e.name === 'TimeoutError' ? `no answer in ${TRACKER_TIMEOUT_MS / 1000} s` : (e.cause?.code ?? e.cause?.message ?? e.message)
    throw new TrackerUnreachableError(`cannot reach the tracker at ${origin}: ${why}`)
  }
  const body = await res.json().catch(() => undefined) as unknown
  if (body === undefined && res.ok) throw new TrackerUnreachableError(`${origin} answered ${path} with something that is not JSON: is it a tabgrad tracker?`)
  return { status: res.status, body }
}

export async function fetchTrackerCampaign (origin: string, id: string, opts: { signal?: AbortSignal } = {}): Promise<TrackerCampaign> {
  const health = await getJson(origin, '/api/health', opts.signal)
  const h = health.body as { peerId?: unknown, multiaddrs?: unknown } | undefined
  if (health.status !== 200 || typeof h?.peerId !== 'string' || !Array.isArray(h.multiaddrs) || !h.multiaddrs.every(a => typeof a === 'string')) {
    throw new TrackerUnreachableError(`${origin} is not a tabgrad tracker (GET /api/health answered ${health.status})`)
  }
  const peer = h.peerId
  const relayAddrs = (h.multiaddrs as string[]).slice(0, 8).map(a => a.includes('/p2p/') ? a : `${a}/p2p/${peer}`)
  if (relayAddrs.length === 0) throw new TrackerUnreachableError(`the tracker at ${origin} names no relay address`)

  const got = await getJson(origin, `/api/campaigns/${id}`, opts.signal)
  if (got.status === 404) throw new BadCampaignError(`the tracker at ${origin} has no campaign ${id}`)
  if (got.status !== 200) throw new TrackerUnreachableError(`the tracker at ${origin} answered ${got.status} for campaign ${id}`)
  const v = validateManifest((got.body as { manifest?: unknown } | undefined)?.manifest)
  if (!v.ok) throw new BadCampaignError(`campaign ${id}'s manifest is invalid: ${v.errors[0]?.path ?? ''} ${v.errors[0]?.message ?? ''}`.trim())
  const actual = await campaignId(v.manifest)
  if (actual !== id) throw new BadCampaignError(`the tracker at ${origin} served a manifest that hashes to ${actual}, not the link's ${id}: refusing to train on it`)
  return { manifest: v.manifest, relayAddrs }
}
