// The swarm runtime's timings and limits, each with where its value came from.

/** Heartbeat period: well inside the tracker's 15 s tab timeout (src/tracker/swarm/coordinator.ts), so two lost beats are survivable. */
export const HEARTBEAT_MS = 2_000

/** How often stage 0 checks its routes for dead or silent receivers. Off the hot path: only re-routing waits on it. */
export const ROUTE_CHECK_MS = 2_000

/** Gradients not back within this are re-routed to another replica. A 4-stage round trip on SwiftShader takes ~10 s. */
export const ROUTE_TIMEOUT_MS = 60_000

/** Deeper pipelines take longer round trips: at least this much per stage (a hop over a 10 Mbit/s link with 8 MB tensors takes ~7 s each way). */
export const ROUTE_TIMEOUT_PER_STAGE_MS = 20_000

/** A replica waits this long for its peers' weights at a sync before averaging what it has. */
export const SYNC_TIMEOUT_MS = 20_000

/** Backoff after a failed tracker call in the lease pump (tracker restarting, network blip). */
export const LEASE_RETRY_MS = 1_000

/** A completion is retried this many times (1 s, 2 s, 4 s … apart): a tracker restart must not cost the work. */
export const COMPLETE_RETRIES = 6

/** Backoff while the tracker has no microbatch to lease (the run is ending, or another tab holds them all). */
export const LEASE_EMPTY_MS = 250

/**
 * Bytes of GPU memory the activation slots of one stage may take. WebGPU gives no free-memory
 * query; 512 MiB stays well inside the smallest adapters' 1–2 GiB maxBufferSize·n (ENVIRONMENT.md).
 */
export const ACTIVATION_BUDGET_BYTES = 512 * 2 ** 20
