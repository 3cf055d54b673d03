// The gate every peer's bytes pass before they touch this replica's state: who may send a tensor
// (the tracker's adjacent stage; for gradients, the replica this tab sent that microbatch to), who
// may fetch weights (this stage's replicas), and what a tensor or a sync contribution may hold
// (the stage's shape, finite numbers, a step the tracker could be at, a bounded weight). The checks
// are pure functions; PeerGate applies them to one replica's view and remembers banned peers.
import type { InboundTensor, SyncWeights } from './transport.ts'
import { BannedPeerError, NonFiniteError, ShapeError, StaleError, StepAheadError, StepBombError, UnlistedPeerError, UnsolicitedError } from './errors.ts'

/**
 * Steps past the tracker's last known one that are refused as a bomb (a violation), not as lag.
 * An honest sender is at most a few steps ahead of a heartbeat that is 2 s old.
 */
export const STEP_BOMB_MARGIN = 64

/** Index of the first NaN or ±Inf in `data`, or -1. One pass; `v - v` is 0 only for finite v. */
export function firstNonFinite (data: Float32Array): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]
    if (v - v !== 0) return i
  }
  return -1
}

/** Why a tensor is not the stage's (B, T, C) (declared shape and data length), or null. */
export function shapeProblem (shape: readonly number[] | undefined, length: number, expected: readonly number[]): string | null {
  const n = expected.reduce((a, b) => a * b, 1)
  if (shape != null && (shape.length !== expected.length || shape.some((d, i) => d !== expected[i]))) {
    return `shape [${shape.join(',').slice(0, 60)}], this stage takes [${expected.join(',')}]`
  }
  if (length !== n) return `${length} elements, this stage takes ${n}`
  return null
}

export type StepVerdict = 'ok' | 'stale' | 'ahead' | 'bomb'

/**
 * A sender's optimizer step against this replica's: activations may lag by the campaign's
 * lookahead. A step more than one past what the tracker last said (`tracker`) is 'ahead': honest
 * when this tab's last heartbeat is a few steps old, so the tensor is taken but its step counts as
 * `tracker + 1` (a peer can never walk this replica's step forward on its own); far past it, a bomb.
 */
export function stepVerdict (step: number, at: { applied: number, tracker: number, lookahead: number, kind: 'activations' | 'gradients' | 'weights' }): StepVerdict {
  if (!Number.isSafeInteger(step) || step < 0) return 'bomb'
  // Bounded by the tracker's word alone: bounding by `applied` would let a peer ratchet it up one step per tensor.
  if (step > at.tracker + STEP_BOMB_MARGIN) return 'bomb'
  if (step > at.tracker + 1) return 'ahead'
  if (at.kind === 'activations' && step < at.applied - at.lookahead) return 'stale'
  return 'ok'
}

/**
 * A replica's sync contribution, checked: finite parameters, a finite non-negative weight capped
 * at `maxWeight` (the microbatches of a whole sync period: no replica learned from more). Throws
 * NonFiniteError for NaN/Inf anywhere.
 */
export function checkedContribution (w: SyncWeights, maxWeight: number): SyncWeights {
  const weight = w.weight ?? 1
  if (!Number.isFinite(weight) || weight < 0) throw new NonFiniteError(`sync weight ${String(weight)}`)
  const bad = firstNonFinite(w.params)
  if (bad >= 0) throw new NonFiniteError(`weights hold ${w.params[bad]} at ${bad}`)
  return { ...w, weight: Math.min(weight, maxWeight) }
}

/** What the gate needs to know about this replica, now. */
export interface GateView {
  /** (B, T, C) of every activation and gradient. */
  shape: readonly number[]
  lookahead: number
  applied: () => number
  /** The step the tracker last announced (replies only; peers cannot move it). */
  trackerStep: () => number
  /** Listed by the tracker, in a recent heartbeat reply, on the previous stage. */
  listedPrev: (peer: string) => boolean
  /** This tab sent microbatch `mb` to `peer` (or did, before a re-route) and awaits its gradients. */
  awaits: (mb: number, peer: string) => boolean
  /** `peer` is a listed replica of the next stage (a late answer to a closed route is harmless). */
  listedNext: (peer: string) => boolean
}

export class PeerGate {
  readonly #v: GateView
  readonly #banned = new Set<string>()

  constructor (view: GateView) { this.#v = view }

  ban (peer: string): void { this.#banned.add(peer) }
  isBanned (peer: string): boolean { return this.#banned.has(peer) }

  /**
   * Who sent it: 'ok', or 'unlisted' when the sender of activations is not (yet) on the tracker's
   * previous stage (the caller may refresh the list once and ask `checkTensor` again). Throws
   * BannedPeerError or UnsolicitedError.
   */
  sender (t: Pick<InboundTensor, 'from' | 'kind' | 'microbatch'>): 'ok' | 'unlisted' {
    if (this.#banned.has(t.from)) throw new BannedPeerError(`${t.from} was disconnected for a violation`)
    if (t.kind === 'activations') return this.#v.listedPrev(t.from) ? 'ok' : 'unlisted'
    if (this.#v.awaits(t.microbatch, t.from) || this.#v.listedNext(t.from)) return 'ok'
    throw new UnsolicitedError(`gradients of microbatch ${t.microbatch} from ${t.from}, which this tab did not send it to`)
  }

  /**
   * Everything a tensor declares and holds, cheapest first; throws a GateError (or StaleError) to
   * nack. Returns the tensor to take: its step capped at the tracker's + 1 when it was 'ahead'.
   */
  content (t: InboundTensor): { take: InboundTensor, ahead: boolean } {
    const v = this.#v
    const verdict = stepVerdict(t.optimizerStep, { applied: v.applied(), tracker: v.trackerStep(), lookahead: v.lookahead, kind: t.kind })
    if (verdict === 'bomb') throw new StepBombError(`${t.kind} of step ${t.optimizerStep}, the tracker is at ${v.trackerStep()}`)
    if (verdict === 'stale') throw new StaleError(`activations of step ${t.optimizerStep}, this replica is at ${v.applied()}`)
    const shape = shapeProblem(t.shape, t.data.length, v.shape)
    if (shape != null) throw new ShapeError(`${t.kind} of microbatch ${t.microbatch}: ${shape}`)
    const bad = firstNonFinite(t.data)
    if (bad >= 0) throw new NonFiniteError(`${t.kind} of microbatch ${t.microbatch} hold ${t.data[bad]} at ${bad}`)
    const ahead = verdict === 'ahead'
    return { take: ahead ? { ...t, optimizerStep: v.trackerStep() + 1 } : t, ahead }
  }

  /** The whole check of a tensor: what to take, or 'unlisted' (its sender is not on the tracker's previous stage). */
  checkTensor (t: InboundTensor): { take: InboundTensor, ahead: boolean } | 'unlisted' {
    return this.sender(t) === 'ok' ? this.content(t) : 'unlisted'
  }

  /** A weights request: throws unless `from` is a listed replica of this stage asking for a step the tracker could be at. */
  weights (from: string, step: number | 'latest', listed: boolean): void {
    if (this.#banned.has(from)) throw new BannedPeerError(`${from} was disconnected for a violation`)
    if (!listed) throw new UnlistedPeerError(`${from} is not a replica of this stage`)
    if (step === 'latest') return
    const verdict = stepVerdict(step, { applied: this.#v.applied(), tracker: this.#v.trackerStep(), lookahead: 0, kind: 'weights' })
    if (verdict === 'bomb') throw new StepBombError(`weights of step ${step}, the tracker is at ${this.#v.trackerStep()}`)
    if (verdict === 'ahead') throw new StepAheadError(`weights of step ${step}, the tracker was last at ${this.#v.trackerStep()}`)
  }
}
