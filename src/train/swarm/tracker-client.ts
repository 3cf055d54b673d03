// The tab's calls to the tracker's swarm API: the wire contract of src/protocol/swarm.ts over
// HTTP. Every call has a timeout; a non-2xx reply is a TrackerError carrying the status. Every
// POST is signed with the tab's libp2p key (identity/swarm-call-signature.ts), timed on the
// tracker's clock as the replies' Date headers tell it, so a tab with a wrong clock still works.
import type { PrivateKey } from '@libp2p/interface'
import { signCall } from '../../identity/swarm-call-signature.ts'
import type { CompleteReply, HeartbeatReply, JoinReply, LeaseReply, PeerReportBody, SpotReply, SpotReportBody, SwarmStatus, TabStats } from '../../protocol/swarm.ts'
export type { HeartbeatReply, JoinReply, SpotReportBody } from '../../protocol/swarm.ts'

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
  spotcheck(report: SpotReportBody): Promise<SpotReply>
  /** Tells the tracker about a peer this tab disconnected. */
  report(body: PeerReportBody): Promise<void>
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
  /** Tracker clock − ours, in ms, from the last reply's Date header (1 s resolution). */
  let offsetMs = 0
  async function send (action: string, text: string): Promise<Response> {
    const url = `${base}/${action}`
    const headers = await signCall(init.privateKey, { method: 'POST', path: new URL(url, 'http://x').pathname, peerId: init.peerId, time: now() + offsetMs, body: JSON.parse(text) })
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text, signal: AbortSignal.timeout(timeout) })
    const date = Date.parse(res.headers.get('date') ?? '')
    // +500: the header's time was truncated to the second.
    if (Number.isFinite(date)) offsetMs = date + 500 - now()
    if (res.ok && action !== 'leave') void presignLeave()
    return res
  }
  let leaveReady: { at: number, headers: Record<string, string>, text: string } | null = null
  let presigning = false
  async function presignLeave (): Promise<void> {
    if (presigning || (leaveReady != null && now() - leaveReady.at < PRESIGNED_LEAVE_MS)) return
    presigning = true
    try {
      const text = JSON.stringify({ peerId: init.peerId })
      const at = now()
      const headers = await signCall(init.privateKey, { method: 'POST', path: new URL(`${base}/leave`, 'http://x').pathname, peerId: init.peerId, time: at + offsetMs, body: JSON.parse(text) })
      leaveReady = { at, headers, text }
    } catch {} finally { presigning = false }
  }
  async function post<T> (action: string, body: Record<string, unknown> = {}): Promise<T> {
    const text = JSON.stringify({ peerId: init.peerId, ...body })
    let res = await send(action, text)
    // Refused as unsigned or stale: our clock was off (now corrected from the reply); once more.
    if (res.status === 401) {
      await res.body?.cancel()
      res = await send(action, text)
    }
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
    spotcheck: async report => await post('spotcheck', { ...report }),
    report: async body => { await post('report', { ...body }) },
    status: async () => {
      const res = await fetch(`${base}/swarm`, { signal: AbortSignal.timeout(timeout) })
      if (!res.ok) throw new TrackerError(res.status, `HTTP ${res.status}`)
      return await res.json() as SwarmStatus
    }
  }
}
