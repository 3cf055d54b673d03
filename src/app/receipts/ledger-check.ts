// This browser's kept receipts against the campaign's ledger: which hops the ledger holds (the
// very receipt, matched by its sender's signature), which microbatches it credited along another
// route, and which work it does not show at all. Fed the ledger page by page as the ownership
// page reads it anyway, so checking costs no extra requests.
import type { LedgerEntry } from '../../ledger/hash-chain.ts'
import type { KeptReceipt } from './kept-receipt.ts'

/** A receipt younger than this may still be on its way to the ledger (route in flight, completion pending). */
export const PENDING_MS = 2 * 60_000

export type ReceiptFate =
  /** The ledger holds this very receipt. */
  | 'in-ledger'
  /** Not yet: signed moments ago. */
  | 'pending'
  /** The microbatch is credited, but along a route without this hop (it was redone elsewhere). */
  | 'other-route'
  /** The microbatch is not in the ledger. */
  | 'missing'

export interface CheckedReceipt extends KeptReceipt { fate: ReceiptFate }

export interface ReceiptComparison {
  total: number
  inLedger: number
  pending: number
  /** other-route + missing: work this browser signed that the ledger does not credit to it. */
  missing: number
  /** The receipts not in the ledger (pending ones too), newest first. */
  notInLedger: CheckedReceipt[]
}

/** Why a receipt is not in the ledger, in a sentence. */
export const FATE_EXPLAINED: Record<ReceiptFate, string> = {
  'in-ledger': 'in the ledger',
  pending: 'signed moments ago: the route may still be in flight',
  'other-route': 'the microbatch was credited along another route (this route stalled and it was redone)',
  missing: 'not credited: the route never completed (a later hop failed or a tab left), or the tracker is withholding or has not recorded the credit'
}

export class ReceiptLedgerCheck {
  readonly #kept: readonly KeptReceipt[]
  /** Microbatches a kept receipt names: only their ledger entries are looked at. */
  readonly #wanted: Set<number>
  /** Sender signatures the ledger holds, per microbatch of interest. */
  readonly #sigs = new Map<number, Set<string>>()

  constructor (kept: readonly KeptReceipt[]) {
    // A hop countersigned twice (a tensor delivered again) is one piece of work: keep the first.
    const seen = new Set<string>()
    this.#kept = kept.filter(k => {
      const id = `${k.role} ${k.fromSig}`
      if (seen.has(id)) return false
      seen.add(id)
      return true
    })
    this.#wanted = new Set(this.#kept.map(k => k.receipt.microbatch))
  }

  /** One ledger entry (call for every entry of every page). */
  add (entry: LedgerEntry): void {
    if (!this.#wanted.has(entry.microbatch)) return
    let sigs = this.#sigs.get(entry.microbatch)
    if (sigs == null) { sigs = new Set(); this.#sigs.set(entry.microbatch, sigs) }
    for (const r of entry.receipts ?? []) if (typeof r?.fromSig === 'string') sigs.add(r.fromSig)
  }

  fateOf (k: KeptReceipt, now: number): ReceiptFate {
    const sigs = this.#sigs.get(k.receipt.microbatch)
    // Signatures are over the whole receipt, so the sender's names exactly this hop.
    if (sigs?.has(k.fromSig) === true) return 'in-ledger'
    if (now - k.at < PENDING_MS) return 'pending'
    return sigs != null ? 'other-route' : 'missing'
  }

  result (now: number): ReceiptComparison {
    const checked = this.#kept.map(k => ({ ...k, fate: this.fateOf(k, now) }))
    const inLedger = checked.filter(c => c.fate === 'in-ledger').length
    const pending = checked.filter(c => c.fate === 'pending').length
    return {
      total: checked.length,
      inLedger,
      pending,
      missing: checked.length - inLedger - pending,
      notInLedger: checked.filter(c => c.fate !== 'in-ledger').sort((a, b) => b.at - a.at)
    }
  }
}
