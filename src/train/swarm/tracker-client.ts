// The tab's calls to the tracker's swarm API: the wire contract of src/protocol/swarm.ts over
// HTTP. Every call has a timeout; a non-2xx reply is a TrackerError carrying the status.
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
  /** @default 30000 */
  timeoutMs?: number
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

export function createTrackerClient (init: TrackerClientInit): TrackerClient {
  const base = `${init.origin.replace(/\/$/, '')}/api/campaigns/${init.campaign}`
  const timeout = init.timeoutMs ?? 30_000
  async function post<T> (action: string, body: Record<string, unknown> = {}): Promise<T> {
    const res = await fetch(`${base}/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ peerId: init.peerId, ...body }),
      signal: AbortSignal.timeout(timeout)
    })
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
    spotcheck: async report => await post('spotcheck', { ...report }),
    report: async body => { await post('report', { ...body }) },
    status: async () => {
      const res = await fetch(`${base}/swarm`, { signal: AbortSignal.timeout(timeout) })
      if (!res.ok) throw new TrackerError(res.status, `HTTP ${res.status}`)
      return await res.json() as SwarmStatus
    }
  }
}
