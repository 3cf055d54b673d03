// Work receipts: for each hop of a microbatch, the sender and the receiver both sign what was
// handed over (DESIGN.md "Work receipts"). Browser and Node.
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { fromString as bytesFromString } from 'uint8arrays/from-string'
import { toString as bytesToString } from 'uint8arrays/to-string'
import type { PrivateKey } from '@libp2p/interface'
import { taggedBytes } from './canonical.ts'
import { RECEIPT_TAG } from './constants.ts'
import { MalformedReceiptError, ReceiptSignatureError, WrongSignerError } from './errors.ts'

export interface Receipt {
  campaign: string
  microbatch: number
  /** Stage index of the sender's work. */
  stage: number
  /** Activations forward, or gradients backward. */
  direction: 'fwd' | 'bwd'
  /** FLOPs the sender spent producing what it hands over. */
  flops: number
  /** Digest of the tensor the sender received (its input). */
  inDigest: string
  /** Digest of the tensor the sender hands over (its output). */
  outDigest: string
  /** Sender PeerId. */
  from: string
  /** Receiver PeerId. */
  to: string
}

/** Signatures are standard base64 of Ed25519 signatures over `receiptBytes(receipt)`. */
export interface SenderSignedReceipt {
  receipt: Receipt
  fromSig: string
}

export interface SignedReceipt extends SenderSignedReceipt {
  toSig: string
}

const MAX_FIELD_CHARS = 256

function field (ok: boolean, name: string): void {
  if (!ok) throw new MalformedReceiptError(`receipt.${name} is missing or invalid`)
}

const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_FIELD_CHARS
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

/** Checks field types and returns a copy with exactly the receipt's fields. */
export function parseReceipt (value: unknown): Receipt {
  const r = (value ?? {}) as Partial<Receipt>
  field(isText(r.campaign), 'campaign')
  field(isCount(r.microbatch), 'microbatch')
  field(isCount(r.stage), 'stage')
  field(r.direction === 'fwd' || r.direction === 'bwd', 'direction')
  field(typeof r.flops === 'number' && Number.isFinite(r.flops) && r.flops >= 0, 'flops')
  field(isText(r.inDigest), 'inDigest')
  field(isText(r.outDigest), 'outDigest')
  field(isText(r.from), 'from')
  field(isText(r.to), 'to')
  const { campaign, microbatch, stage, direction, flops, inDigest, outDigest, from, to } = r as Receipt
  return { campaign, microbatch, stage, direction, flops, inDigest, outDigest, from, to }
}

/** The bytes both parties sign: a domain tag + sorted-key JSON. */
export function receiptBytes (receipt: Receipt): Uint8Array {
  return taggedBytes(RECEIPT_TAG, parseReceipt(receipt))
}

async function signAs (receipt: Receipt, key: PrivateKey, who: 'from' | 'to'): Promise<string> {
  if (peerIdFromPrivateKey(key).toString() !== receipt[who]) {
    throw new WrongSignerError(`key is not receipt.${who}`)
  }
  return bytesToString(await key.sign(receiptBytes(receipt)), 'base64pad')
}

async function checkSig (receipt: Receipt, sig: unknown, who: 'from' | 'to'): Promise<void> {
  let ok = false
  try {
    const publicKey = peerIdFromString(receipt[who]).publicKey
    if (typeof sig === 'string' && publicKey != null) {
      ok = await publicKey.verify(receiptBytes(receipt), bytesFromString(sig, 'base64pad'))
    }
  } catch {}
  if (!ok) throw new ReceiptSignatureError(`receipt is not signed by its ${who === 'from' ? 'sender' : 'receiver'}`)
}

/** The sender signs the hop it hands over. */
export async function signAsSender (receipt: Receipt, key: PrivateKey): Promise<SenderSignedReceipt> {
  const r = parseReceipt(receipt)
  return { receipt: r, fromSig: await signAs(r, key, 'from') }
}

/** The receiver checks the sender's signature, then countersigns. */
export async function countersign (signed: SenderSignedReceipt, key: PrivateKey): Promise<SignedReceipt> {
  const r = parseReceipt(signed.receipt)
  await checkSig(r, signed.fromSig, 'from')
  return { receipt: r, fromSig: signed.fromSig, toSig: await signAs(r, key, 'to') }
}

/** Throws MalformedReceiptError or ReceiptSignatureError unless both sides signed this receipt. */
export async function verifyReceipt (signed: unknown): Promise<SignedReceipt> {
  const s = (signed ?? {}) as Partial<SignedReceipt>
  const receipt = parseReceipt(s.receipt)
  await checkSig(receipt, s.fromSig, 'from')
  await checkSig(receipt, s.toSig, 'to')
  return { receipt, fromSig: s.fromSig as string, toSig: s.toSig as string }
}

/**
 * Checks every receipt of a microbatch before the tracker credits it: both signatures, and
 * that each receipt is about this campaign and microbatch (no receipt reused from another).
 */
export async function verifyMicrobatchReceipts (campaign: string, microbatch: number, receipts: readonly unknown[]): Promise<SignedReceipt[]> {
  const out: SignedReceipt[] = []
  for (const r of receipts) {
    const signed = await verifyReceipt(r)
    if (signed.receipt.campaign !== campaign || signed.receipt.microbatch !== microbatch) {
      throw new MalformedReceiptError(`a receipt is for ${signed.receipt.campaign}#${signed.receipt.microbatch}, not ${campaign}#${microbatch}`)
    }
    out.push(signed)
  }
  return out
}
