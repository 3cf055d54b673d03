// The swarm's wire contract between a tab and the tracker: the JSON bodies of the HTTP routes
// under /api/campaigns/:id/… . Both sides import these types from here; this module imports
// nothing, so a browser bundle never pulls in server code. Every POST is signed by the tab's
// libp2p key (x-tabgrad-peer/-time/-nonce/-signature headers, identity/swarm-call-signature.ts)
// and its `peerId` must be the signer's.
//
//   POST join {peerId, throughput?, bandwidth?, stage?} → JoinReply   (FLOP/s, uplink bytes/s)
//   POST heartbeat {peerId, stats}                 → HeartbeatReply
//   POST lease {peerId, max?}                      → LeaseReply              (stage 0 only)
//   POST complete {peerId, microbatch, receipts, window?, loss?} → CompleteReply (the next leases ride along;
//                                                    loss: the last stage's, relayed back with the gradients)
//   POST release {peerId, microbatch}              → {ok}
//   POST loss {peerId, microbatch, loss}           → {ok}
//   POST leave {peerId}                            → {ok}
//   POST spotcommit {peerId, microbatch, stage, step, weightsDigest, root, numel} → SpotCommitReply
//                                                  (a Merkle root over this replica's output, before it
//                                                   learns whether the tracker checks it)
//   POST spotcheck {peerId, microbatch, stage, proofs} → SpotReply (opens the revealed indices)
//   POST report {peerId, offender, reason}         → {ok}    (a peer this tab disconnected: PeerReportBody)
//   POST evalloss {peerId, step, batch, loss}      → {ok}    (the last stage's loss of one validation batch
//                                                    with the weights after `step` steps: EvalLossBody)
//   GET  swarm                                     → SwarmStatus
//   GET  learned?step=k                            → LearnedReply (credited microbatches per peer in the
//                                                    sync period ending at step k: replicas cap sync weights at them)

/** Most leases one request may ask for (a stage-0 tab's window). */
export const MAX_LEASE_WINDOW = 16

export interface StageRangeWire { first: number, last: number }

export interface JoinReply { stage: number, range: StageRangeWire, stages: number, step: number, replicas: string[] }

export interface HeartbeatReply {
  stage: number
  step: number
  done: boolean
  replicas: string[]
  /** Ready replicas of the next stage, to route activations to. */
  next: string[]
  /** Ready replicas of the previous stage: the only peers whose activations this tab takes. */
  prev: string[]
  excluded: boolean
  /**
   * Microbatches (of the tracker's step and the next) whose activations this tab, if it sends
   * them, also sends to every other replica of the next stage: the tracker checks that stage's
   * outputs of them. Only the sender hears this, so the checked replica cannot foresee its check.
   */
  shadows?: number[]
}

/** Why a tab disconnected a peer (the gate's violations, src/train/swarm/peer-gate.ts). */
export const PEER_REPORT_REASONS = ['NonFiniteError', 'ShapeError', 'StepBombError'] as const
export type PeerReportReason = typeof PEER_REPORT_REASONS[number]

/** A tab tells the tracker which peer it disconnected and why (evidence for the operator; it excludes no one by itself). */
export interface PeerReportBody { offender: string, reason: PeerReportReason }

/** One validation batch's mean cross-entropy, from the last stage, for the weights after `step` steps. */
export interface EvalLossBody { step: number, batch: number, loss: number }

export interface LearnedReply { step: number, final: boolean, counts: Record<string, number> }

/** A microbatch id to run, with the optimizer step it belongs to (id / accumulation). */
export interface Lease { id: number, step: number }

export interface LeaseReply {
  /** The tracker's optimizer step: every step below it has completed everywhere. */
  step: number
  leases: Lease[]
  /** Leased microbatches to shadow to the other replicas of stage 1 (see HeartbeatReply.shadows). */
  shadows?: number[]
}

export interface CompleteReply extends LeaseReply {
  credited: boolean
}

/**
 * A replica's commitment to its output of a microbatch: the root of ledger/output-merkle.ts over
 * `numel` floats. `weightsDigest` null: its weights moved on since the sync (committed, not compared).
 */
export interface SpotCommitBody { microbatch: number, stage: number, step: number, weightsDigest: string | null, root: string, numel: number }
/**
 * Whether microbatch `mb` belongs to a step right after a replica sync, when replicas hold the same
 * weights: the only microbatches spot checks may cover. Tab and tracker share this rule.
 */
export function inPostSyncStep (mb: number, accumulation: number, syncEvery: number): boolean {
  return Math.floor(mb / accumulation) % syncEvery === 0
}

/** Whether the tracker checks this output; then, the indices to open (revealed only now, after the commitment). */
export interface SpotCommitReply { checked: boolean, indices?: number[] }
/** Opens a committed check: one output-merkle proof per revealed index, in order. */
export interface SpotOpenBody { microbatch: number, stage: number, proofs: unknown[] }
export interface SpotReply { verdicts: Array<{ peerId: string, verdict: 'verified' | 'flagged' }> }

/** Counters a tab reports with every heartbeat. */
export interface TabStats {
  /** Measured compute throughput (FLOP/s). */
  throughput?: number
  busy_fraction?: number
  idle_wait_fraction?: number
  bytes_sent?: number
  bytes_received?: number
  flops?: number
  microbatches?: number
  queue?: number
  retried?: number
  /** 1 while the volunteer has paused: not routed to. */
  paused?: number
  /** Milliseconds the GPU worked, waited with nothing to do, and have passed since training began. */
  busy_ms?: number
  idle_ms?: number
  wall_ms?: number
}

export interface StepLoss { step: number, loss: number, microbatches: number }

/** What spot checks say of a replica (set only when there is something to say). */
export interface ReplicaChecks {
  /** 1: failed a spot check or skipped too many; out of routing, its share withheld. */
  excluded?: number
  /** 1: passed a spot check. */
  verified?: number
  /** Spot checks it left unanswered past their deadline. */
  skipped?: number
}

export interface SwarmStatus {
  step: number
  totalSteps: number
  done: boolean
  stages: Array<{ stage: number, replicas: Array<{ peerId: string } & TabStats & ReplicaChecks> }>
  losses: StepLoss[]
  microbatches: { scheduled: number, completed: number, retried: number, lost: number, in_flight: number }
  /** Spot-check reports owed now (credit waits on them). */
  spot_due?: number
  /** Held-out validation loss after the steps that evaluate (campaigns with dataset.validation_tokens). */
  validation?: Array<{ step: number, loss: number }>
}
