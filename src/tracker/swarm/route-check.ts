// What a completion's route must show before anyone is credited, beyond its signatures and
// shape (campaign-ledgers.ts routeCredits): every hop's peer had joined the stage it claims and
// is not flagged, and the tensors chain — what stage s handed over is what stage s+1 received,
// and each stage's backward receipt is about the input its forward got. Two fresh keys that
// never joined, or a route stitched from hops of different runs, earn nothing.
import type { SignedReceipt } from '../../ledger/receipt.ts'
import type { Credit } from '../../ledger/hash-chain.ts'
import { BadRequestError, ForbiddenError } from '../errors.ts'

export class RouteMemberError extends ForbiddenError {
  override name = 'RouteMemberError'
}

export class DigestChainError extends BadRequestError {
  override name = 'DigestChainError'
}

export interface RouteMembers {
  /** The stage a peer trains (or last trained), if it joined this campaign. */
  joinedStage(peerId: string): number | undefined
  isExcluded(peerId: string): boolean
}

/**
 * Throws RouteMemberError (403) or DigestChainError (400) unless the checked route holds up.
 * `credits` lists the route's peers by stage (credits[s].peerId ran stage s).
 */
export function checkRoute (members: RouteMembers, stages: number, credits: readonly Credit[], receipts: readonly SignedReceipt[]): void {
  credits.forEach(({ peerId }, s) => {
    if (members.joinedStage(peerId) !== s) throw new RouteMemberError(`the route names ${peerId} at stage ${s}, but it did not join that stage`)
    if (members.isExcluded(peerId)) throw new RouteMemberError(`the route names ${peerId}, which failed verification`)
  })
  const fwd = new Map<number, SignedReceipt['receipt']>()
  const bwd = new Map<number, SignedReceipt['receipt']>()
  for (const { receipt: r } of receipts) (r.direction === 'fwd' ? fwd : bwd).set(r.stage, r)
  for (let s = 1; s < stages; s++) {
    // Stage s's input is what stage s-1 sent forward.
    const input = fwd.get(s - 1)?.outDigest
    if (s < stages - 1 && fwd.get(s)?.inDigest !== input) throw new DigestChainError(`the fwd receipt of stage ${s} is about another input than stage ${s - 1} sent`)
    if (bwd.get(s)?.inDigest !== input) throw new DigestChainError(`the bwd receipt of stage ${s} is about another input than stage ${s - 1} sent`)
  }
}
