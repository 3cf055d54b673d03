// A hop receipt as this browser keeps it (receipt-store.ts): the signed receipt, which side this
// tab was on, and when it signed. Records read back from IndexedDB go through `parseKept`, so a
// damaged or foreign record is skipped, never shown as work.
import { parseReceipt, type Receipt, type SenderSignedReceipt, type SignedReceipt } from '../../ledger/receipt.ts'

/** Receipts kept per campaign: the newest this many, about 2 MB of IndexedDB at ~400 bytes each. */
export const MAX_KEPT_PER_CAMPAIGN = 5000

export interface KeptReceipt {
  campaign: string
  /** 'sender': this tab signed what it handed over; 'receiver': it countersigned what it got. */
  role: 'sender' | 'receiver'
  receipt: Receipt
  fromSig: string
  /** Only once countersigned (the receiver's copy). */
  toSig?: string
  /** When this tab signed, ms since the epoch. */
  at: number
}

/** The record to keep for a receipt this tab (`me`) just signed or countersigned. */
export function keptFrom (signed: SenderSignedReceipt | SignedReceipt, me: string, at: number): KeptReceipt {
  const receipt = parseReceipt(signed.receipt)
  const toSig = (signed as Partial<SignedReceipt>).toSig
  return {
    campaign: receipt.campaign,
    role: receipt.from === me ? 'sender' : 'receiver',
    receipt,
    fromSig: signed.fromSig,
    ...(typeof toSig === 'string' ? { toSig } : {}),
    at
  }
}

/** A stored record as a KeptReceipt, or null if it is not one. */
export function parseKept (value: unknown): KeptReceipt | null {
  const v = (value ?? {}) as Partial<KeptReceipt>
  try {
    const receipt = parseReceipt(v.receipt)
    if (v.campaign !== receipt.campaign || (v.role !== 'sender' && v.role !== 'receiver')) return null
    if (typeof v.fromSig !== 'string' || (v.toSig != null && typeof v.toSig !== 'string')) return null
    if (typeof v.at !== 'number' || !Number.isFinite(v.at)) return null
    return { campaign: v.campaign, role: v.role, receipt, fromSig: v.fromSig, ...(v.toSig != null ? { toSig: v.toSig } : {}), at: v.at }
  } catch {
    return null
  }
}

/** How many of a campaign's `count` kept receipts to drop, oldest first, to stay within `max`. */
export const overflow = (count: number, max = MAX_KEPT_PER_CAMPAIGN): number => Math.max(0, count - max)
