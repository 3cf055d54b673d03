// The tab's calls to the tracker's swarm API (src/tracker/swarm/routes.ts).
import type { StageRange } from '../../model/config.ts'
import type { Lease, SwarmStatus, TabStats } from '../../tracker/swarm/coordinator.ts'

export interface JoinReply { stage: number, range: StageRange, stages: number, step: number, replicas: string[] }
export interface HeartbeatReply { stage: number, step: number, done: boolean, replicas: string[], next: string[], excluded: boolean }
export interface SpotReportBody { microbatch: number, stage: number, step: number, weightsDigest: string, sample: number[] }

export class TrackerError extends Error {
  override name = 'TrackerError'
  constructor (readonly status: number, message: string) { super(message) }
}

export interface TrackerClientInit {
  /** Origin of the tracker (the app's own origin in a browser). */
  origin: string
  campaign: string
  peerId: string
}

export interface TrackerClient {
  join(opts: { throughput?: number, stage?: number }): Promise<JoinReply>
  heartbeat(stats: TabStats): Promise<HeartbeatReply>
  lease(max: number): Promise<{ step: number, leases: Lease[] }>
  complete(microbatch: number, receipts: unknown[]): Promise<{ credited: boolean, step: number }>
  release(microbatch: number): Promise<void>
  loss(microbatch: number, loss: number): Promise<void>
  leave(): Promise<void>
  spotcheck(report: SpotReportBody): Promise<{ verdicts: Array<{ peerId: string, verdict: 'verified' | 'flagged' }> }>
  status(): Promise<SwarmStatus>
}

export function createTrackerClient (init: TrackerClientInit): TrackerClient {
  const base = `${init.origin.replace(/\/$/, '')}/api/campaigns/${init.campaign}`
  async function post<T> (action: string, body: Record<string, unknown> = {}): Promise<T> {
    const res = await fetch(`${base}/${action}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ peerId: init.peerId, ...body }),
      signal: AbortSignal.timeout(30_000)
    })
    const json = await res.json().catch(() => ({})) as { error?: string }
    if (!res.ok) throw new TrackerError(res.status, json.error ?? `HTTP ${res.status}`)
    return json as T
  }
  return {
    join: async opts => await post('join', opts),
    heartbeat: async stats => await post('heartbeat', { stats }),
    lease: async max => await post('lease', { max }),
    complete: async (microbatch, receipts) => await post('complete', { microbatch, receipts }),
    release: async microbatch => { await post('release', { microbatch }) },
    loss: async (microbatch, loss) => { await post('loss', { microbatch, loss }) },
    leave: async () => { await post('leave') },
    spotcheck: async report => await post('spotcheck', { ...report }),
    status: async () => {
      const res = await fetch(`${base}/swarm`, { signal: AbortSignal.timeout(30_000) })
      if (!res.ok) throw new TrackerError(res.status, `HTTP ${res.status}`)
      return await res.json() as SwarmStatus
    }
  }
}
