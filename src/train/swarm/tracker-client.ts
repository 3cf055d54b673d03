// The tab's calls to the tracker's swarm API: the wire contract of src/protocol/swarm.ts over
// HTTP. Every call has a timeout; a non-2xx reply is a TrackerError carrying the status. Every
// POST is signed with the tab's libp2p key (identity/swarm-call-signature.ts), timed on the
// tracker's clock as the replies' Date headers tell it, so a tab with a wrong clock still works.
import type { PrivateKey } from '@libp2p/interface'
import { createSignedFetch, type SignedFetch } from './signed-fetch.ts'
import type { CompleteReply, EvalLossBody, HeartbeatReply, JoinReply, LearnedReply, LeaseReply, PeerReportBody, SpotCommitBody, SpotCommitReply, SpotOpenBody, SpotReply, SwarmStatus, TabStats } from '../../protocol/swarm.ts'
export type { HeartbeatReply, JoinReply, SpotCommitBody, SpotOpenBody } from '../../protocol/swarm.ts'

export class TrackerError extends Error {
  override name = 'TrackerError'
  constructor (readonly status: number, message: string) { super(message) }
}

/** The tracker forgot this tab (it restarted, or the tab timed out): join again. */
export function isForgotten (err: unknown): boolean {
  return err instanceof TrackerError && err.status === 409
}

export interface TrackerClientInit {
  /** Origin of the tracker (the app's own origin in a browser). */
  origin: string
  campaign: string
  peerId: string
  /** The tab's libp2p key (of `peerId`): it signs every call. */
  privateKey: PrivateKey
  /** @default 30000 */
  timeoutMs?: number
  /** This tab's clock; the tracker's may differ (the Date header of its replies corrects it). @default Date.now */
  now?: () => number
  /** Signed requests sharing a clock offset with other clients of this tab. @default its own */
  signed?: SignedFetch
}

/** The tracker as the swarm runtime sees it; the simulator implements it in memory. */
export interface TrackerClient {
  join(opts: { throughput?: number, bandwidth?: number, stage?: number }): Promise<JoinReply>
  heartbeat(stats: TabStats): Promise<HeartbeatReply>
  lease(max: number): Promise<LeaseReply>
  /**
   * Reports a finished microbatch with its loss (from the last stage) when known; the reply carries
   * up to `window` next leases.
   */
  complete(microbatch: number, receipts: unknown[], window?: number, loss?: number): Promise<CompleteReply>
  release(microbatch: number): Promise<void>
  loss(microbatch: number, loss: number): Promise<void>
  leave(): Promise<void>
  /** Microbatches each peer was credited for in the sync period ending at `step`; null until the tracker's count is final. */
  learned(step: number): Promise<Record<string, number> | null>
  /** Commits to an output before learning whether it is checked. */
  spotcommit(body: SpotCommitBody): Promise<SpotCommitReply>
  /** Opens a checked output's revealed elements. */
  spotcheck(body: SpotOpenBody): Promise<SpotReply>
  /** Tells the tracker about a peer this tab disconnected. */
  report(body: PeerReportBody): Promise<void>
  /** The last stage's loss of one validation batch. */
  evalloss(body: EvalLossBody): Promise<void>
  status(): Promise<SwarmStatus>
}

/** The HTTP client: also says goodbye from a closing page, where nothing async finishes. */
export interface HttpTrackerClient extends TrackerClient {
  /**
   * Sends `leave` now with a keepalive request that outlives the page (the tracker re-pools this
   * tab's leases). Synchronous: it uses a leave call signed ahead of time, kept fresh by the other
   * calls, since a page being closed cannot wait for a signature.
   */
  leaveOnUnload(): void
}

/** A signed-ahead leave is renewed when older than this (calls go every 2 s): well inside the tracker's ±1 min window. */
const PRESIGNED_LEAVE_MS = 20_000

export function createTrackerClient (init: TrackerClientInit): HttpTrackerClient {
  const base = `${init.origin.replace(/\/$/, '')}/api/campaigns/${init.campaign}`
  const timeout = init.timeoutMs ?? 30_000
  const now = init.now ?? Date.now
  const signed = init.signed ?? createSignedFetch({ peerId: init.peerId, privateKey: init.privateKey, now })
  let leaveReady: { at: number, headers: Record<string, string>, text: string } | null = null
  let presigning = false
  async function presignLeave (): Promise<void> {
    if (presigning || (leaveReady != null && now() - leaveReady.at < PRESIGNED_LEAVE_MS)) return
    presigning = true
    try {
      const body = { peerId: init.peerId }
      const at = now()
      leaveReady = { at, headers: await signed.sign('POST', `${base}/leave`, body), text: JSON.stringify(body) }
    } catch {} finally { presigning = false }
  }
  async function post<T> (action: string, body: Record<string, unknown> = {}): Promise<T> {
    const res = await signed.request('POST', `${base}/${action}`, { body: { peerId: init.peerId, ...body }, timeoutMs: timeout })
    if (res.ok && action !== 'leave') void presignLeave()
    const json = await res.json().catch(() => ({})) as { error?: string }
    if (!res.ok) throw new TrackerError(res.status, json.error ?? `HTTP ${res.status}`)
    return json as T
  }
  return {
    join: async opts => await post('join', opts),
    heartbeat: async stats => await post('heartbeat', { stats }),
    lease: async max => await post('lease', { max }),
    complete: async (microbatch, receipts, window = 0, loss) => await post('complete', { microbatch, receipts, window, ...(loss != null ? { loss } : {}) }),
    release: async microbatch => { await post('release', { microbatch }) },
    loss: async (microbatch, loss) => { await post('loss', { microbatch, loss }) },
    leave: async () => { await post('leave') },
    leaveOnUnload: () => {
      const ready = leaveReady
      if (ready == null) return
      leaveReady = null
      void fetch(`${base}/leave`, { method: 'POST', keepalive: true, headers: { 'content-type': 'application/json', ...ready.headers }, body: ready.text }).catch(() => {})
    },
    spotcommit: async body => await post('spotcommit', { ...body }),
    spotcheck: async body => await post('spotcheck', { ...body }),
    report: async body => { await post('report', { ...body }) },
    evalloss: async body => { await post('evalloss', { ...body }) },
    learned: async step => {
      const res = await fetch(`${base}/learned?step=${step}`, { signal: AbortSignal.timeout(timeout) })
      if (!res.ok) throw new TrackerError(res.status, `HTTP ${res.status}`)
      const r = await res.json() as LearnedReply
      return r.final ? r.counts : null
    },
    status: async () => {
      const res = await fetch(`${base}/swarm`, { signal: AbortSignal.timeout(timeout) })
      if (!res.ok) throw new TrackerError(res.status, `HTTP ${res.status}`)
      return await res.json() as SwarmStatus
    }
  }
}
