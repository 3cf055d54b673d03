// Ownership of a campaign (DESIGN.md): an address's verified FLOPs / all verified FLOPs.
// Credits of a PeerId follow to the address it is bound to; an unbound PeerId holds its own
// share under its PeerId until it signs in. Browser and Node.
import type { LedgerEntry } from './hash-chain.ts'

export interface Holder {
  /** Checksummed address, or a PeerId not (yet) bound to one. */
  address: string
  flops: number
  /** flops / total_flops, in [0, 1]. */
  share: number
}

/** Body of `GET /api/campaigns/:id/ownership`. */
export interface Ownership {
  total_flops: number
  /** Largest first; ties in address order, so the output is deterministic. */
  holders: Holder[]
}

export interface OwnershipInit {
  /**
   * The address a PeerId is bound to (identity/bindings.ts `addressOf`).
   * @default no bindings: everyone is listed under its PeerId
   */
  addressOf?: (peerId: string) => string | undefined
  /**
   * Work to leave out: unverified or flagged by a replica mismatch (DESIGN.md "Verification").
   * @default nothing withheld
   */
  isWithheld?: (peerId: string, entry: LedgerEntry) => boolean
}

export function computeOwnership (entries: Iterable<LedgerEntry>, init: OwnershipInit = {}): Ownership {
  const flopsBy = new Map<string, number>()
  let total = 0
  for (const entry of entries) {
    for (const { peerId, flops } of entry.credits) {
      if (!(flops > 0) || init.isWithheld?.(peerId, entry) === true) continue
      const holder = init.addressOf?.(peerId) ?? peerId
      flopsBy.set(holder, (flopsBy.get(holder) ?? 0) + flops)
      total += flops
    }
  }
  const holders = [...flopsBy]
    .map(([address, flops]) => ({ address, flops, share: flops / total }))
    .sort((a, b) => b.flops - a.flops || (a.address < b.address ? -1 : a.address > b.address ? 1 : 0))
  return { total_flops: total, holders }
}
