// The receipts a tab keeps (conversion, what a damaged record becomes, the per-campaign bound)
// and how they are compared with a ledger, with real signed receipts.
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { countersign, signAsSender, type Receipt, type SignedReceipt } from '../../ledger/receipt.ts'
import type { LedgerEntry } from '../../ledger/hash-chain.ts'
import { keptFrom, MAX_KEPT_PER_CAMPAIGN, overflow, parseKept, type KeptReceipt } from './kept-receipt.ts'
import { PENDING_MS, ReceiptLedgerCheck } from './ledger-check.ts'

const CAMPAIGN = 'c'.repeat(32)

async function pair (): Promise<{ hop: (mb: number, to?: string) => Promise<SignedReceipt>, me: string, next: string }> {
  const k0 = await generateKeyPair('Ed25519')
  const k1 = await generateKeyPair('Ed25519')
  const me = peerIdFromPrivateKey(k0).toString()
  const next = peerIdFromPrivateKey(k1).toString()
  const hop = async (mb: number): Promise<SignedReceipt> => {
    const r: Receipt = { campaign: CAMPAIGN, microbatch: mb, stage: 0, direction: 'fwd', flops: 10, inDigest: `in${mb}`, outDigest: `out${mb}`, from: me, to: next }
    return await countersign(await signAsSender(r, k0), k1)
  }
  return { hop, me, next }
}

const entry = (mb: number, receipts: SignedReceipt[]): LedgerEntry => ({ campaign: CAMPAIGN, microbatch: mb, credits: [], receipts, time: 0 })

describe('kept receipts', () => {
  it('knows which side this tab signed on and keeps the countersignature only when there is one', async () => {
    const { hop, me, next } = await pair()
    const full = await hop(3)
    const asSender = keptFrom({ receipt: full.receipt, fromSig: full.fromSig }, me, 1000)
    expect(asSender).toEqual({ campaign: CAMPAIGN, role: 'sender', receipt: full.receipt, fromSig: full.fromSig, at: 1000 })
    const asReceiver = keptFrom(full, next, 2000)
    expect(asReceiver.role).toBe('receiver')
    expect(asReceiver.toSig).toBe(full.toSig)
  })

  it('reads back a stored record, and skips damaged or foreign ones', async () => {
    const { hop, me } = await pair()
    const k = keptFrom(await hop(1), me, 5)
    expect(parseKept(JSON.parse(JSON.stringify(k)))).toEqual(k)
    expect(parseKept({ ...k, seq: 9 })).toEqual(k) // the store's key is not part of it
    for (const bad of [null, 7, {}, { ...k, role: 'admin' }, { ...k, campaign: 'other' }, { ...k, fromSig: 1 }, { ...k, at: 'now' }, { ...k, receipt: { ...k.receipt, microbatch: -1 } }]) {
      expect(parseKept(bad)).toBeNull()
    }
  })

  it('bounds each campaign to the newest MAX_KEPT_PER_CAMPAIGN', () => {
    expect(MAX_KEPT_PER_CAMPAIGN).toBe(5000)
    expect(overflow(10)).toBe(0)
    expect(overflow(5000)).toBe(0)
    expect(overflow(5003)).toBe(3)
    expect(overflow(7, 5)).toBe(2)
  })
})

describe('receipts against the ledger', () => {
  it('counts the hops the ledger holds, those credited along another route, those missing, and those still in flight', async () => {
    const { hop, me } = await pair()
    const now = 10 * PENDING_MS
    const old = now - PENDING_MS - 1
    const credited = await hop(0)
    const redone = await hop(1) // this tab's route for mb 1 stalled; another route was credited
    const lost = await hop(2)
    const fresh = await hop(3)
    const kept: KeptReceipt[] = [keptFrom(credited, me, old), keptFrom(redone, me, old - 1), keptFrom(lost, me, old - 2), keptFrom(fresh, me, now - 1000)]
    const check = new ReceiptLedgerCheck(kept)
    const other = await (await pair()).hop(1)
    for (const e of [entry(0, [credited]), entry(1, [other]), entry(7, [await hop(7)])]) check.add(e)
    const r = check.result(now)
    expect([r.total, r.inLedger, r.pending, r.missing]).toEqual([4, 1, 1, 2])
    expect(r.notInLedger.map(c => [c.receipt.microbatch, c.fate])).toEqual([[3, 'pending'], [1, 'other-route'], [2, 'missing']])
  })

  it('matches the very receipt, not just its microbatch: a look-alike with another signature does not count', async () => {
    const { hop, me } = await pair()
    const mine = await hop(4)
    const check = new ReceiptLedgerCheck([keptFrom(mine, me, 0)])
    check.add(entry(4, [{ ...mine, fromSig: (await hop(4)).fromSig.replace(/^./, c => c === 'A' ? 'B' : 'A') }]))
    check.add({ ...entry(4, []), receipts: [null, { fromSig: 3 }] as never })
    expect(check.result(PENDING_MS * 2).missing).toBe(1)
  })

  it('counts a hop kept twice (a tensor delivered again, countersigned again) once', async () => {
    const { hop, me, next } = await pair()
    const r = await hop(5)
    const check = new ReceiptLedgerCheck([keptFrom(r, next, 0), keptFrom(r, next, 1), keptFrom(r, me, 2)])
    check.add(entry(5, [r]))
    // As receiver once and as sender once (two tabs of one browser on both ends).
    expect(check.result(PENDING_MS * 2)).toMatchObject({ total: 2, inLedger: 2, missing: 0 })
  })
})
