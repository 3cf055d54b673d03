import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { canonicalJson } from './canonical.ts'
import { countersign, receiptBytes, signAsSender, verifyMicrobatchReceipts, verifyReceipt, type Receipt } from './receipt.ts'

async function rejection (p: Promise<unknown>): Promise<string> {
  try { await p } catch (err) { return (err as Error).name }
  return 'resolved'
}

describe('canonical JSON', () => {
  it('sorts keys recursively and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 'x' }], z: undefined })).toBe('{"a":[{"c":"x","d":2}],"b":1}')
    expect(() => canonicalJson({ x: NaN })).toThrow()
  })
})

describe('work receipts', async () => {
  const sender = await generateKeyPair('Ed25519')
  const receiver = await generateKeyPair('Ed25519')
  const stranger = await generateKeyPair('Ed25519')
  const receipt: Receipt = {
    campaign: 'demo', microbatch: 7, stage: 0, direction: 'fwd', flops: 1.5e9,
    inDigest: 'aa'.repeat(32), outDigest: 'bb'.repeat(32),
    from: peerIdFromPrivateKey(sender).toString(), to: peerIdFromPrivateKey(receiver).toString()
  }

  it('encodes the same bytes whatever the key order', () => {
    const shuffled = Object.fromEntries(Object.entries(receipt).reverse()) as unknown as Receipt
    expect(receiptBytes(shuffled)).toEqual(receiptBytes(receipt))
  })

  it('verifies once signed by sender and receiver', async () => {
    const signed = await countersign(await signAsSender(receipt, sender), receiver)
    expect((await verifyReceipt(JSON.parse(JSON.stringify(signed)))).receipt).toEqual(receipt)
  })

  it('rejects a changed field, a missing or swapped signature, and a wrong signer', async () => {
    const signed = await countersign(await signAsSender(receipt, sender), receiver)
    expect(await rejection(verifyReceipt({ ...signed, receipt: { ...receipt, flops: 3e9 } }))).toBe('ReceiptSignatureError')
    expect(await rejection(verifyReceipt({ ...signed, toSig: undefined }))).toBe('ReceiptSignatureError')
    expect(await rejection(verifyReceipt({ ...signed, toSig: signed.fromSig }))).toBe('ReceiptSignatureError')
    expect(await rejection(verifyReceipt({ ...signed, receipt: { ...receipt, direction: 'up' } }))).toBe('MalformedReceiptError')
    expect(await rejection(signAsSender(receipt, stranger))).toBe('WrongSignerError')
    const forged = { receipt, fromSig: (await signAsSender({ ...receipt, microbatch: 8 }, sender)).fromSig }
    expect(await rejection(countersign(forged, receiver))).toBe('ReceiptSignatureError')
  })

  it('checks that a microbatch\'s receipts are all about it', async () => {
    const signed = await countersign(await signAsSender(receipt, sender), receiver)
    expect(await verifyMicrobatchReceipts('demo', 7, [signed])).toHaveLength(1)
    expect(await rejection(verifyMicrobatchReceipts('demo', 8, [signed]))).toBe('MalformedReceiptError')
    expect(await rejection(verifyMicrobatchReceipts('demo', 7, [signed, { ...signed, toSig: 'AAAA' }]))).toBe('ReceiptSignatureError')
  })
})
