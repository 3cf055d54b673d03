// The receipt store in real Chromium IndexedDB (the browser project; no GPU needed): receipts
// are kept per campaign, the oldest beyond the bound are dropped, and they survive the page
// closing the database and opening it again, as a reload does.
import { afterEach, describe, expect, it } from 'vitest'
import { ReceiptStore } from './receipt-store.ts'
import type { KeptReceipt } from './kept-receipt.ts'

const A = 'a'.repeat(32)
const B = 'b'.repeat(32)
const names: string[] = []

function kept (campaign: string, microbatch: number): KeptReceipt {
  return {
    campaign, role: 'sender', fromSig: `sig-${campaign[0]}-${microbatch}`, at: 1000 + microbatch,
    receipt: { campaign, microbatch, stage: 0, direction: 'fwd', flops: 1, inDigest: 'i', outDigest: 'o', from: 'me', to: 'you' }
  }
}

function freshName (): string {
  const name = `tabgrad-receipts-test-${Math.random().toString(36).slice(2)}`
  names.push(name)
  return name
}

afterEach(async () => {
  for (const n of names.splice(0)) {
    await new Promise<void>(resolve => {
      const req = indexedDB.deleteDatabase(n)
      req.onsuccess = () => resolve()
      req.onerror = () => resolve()
    })
  }
})

describe('ReceiptStore (IndexedDB)', () => {
  it('keeps each campaign apart and only its newest `max`, oldest dropped first', async () => {
    const store = new ReceiptStore({ max: 5, dbName: freshName() })
    for (let mb = 0; mb < 8; mb++) store.keep(kept(A, mb))
    store.keep(kept(B, 0))
    await store.flush()
    for (let mb = 8; mb < 10; mb++) store.keep(kept(A, mb)) // a second batch prunes again
    expect((await store.list(A)).map(r => r.receipt.microbatch)).toEqual([5, 6, 7, 8, 9])
    expect((await store.list(B)).map(r => r.receipt.microbatch)).toEqual([0])
    await store.close()
  })

  it('survives closing and reopening the database, and skips a damaged record', async () => {
    const dbName = freshName()
    const first = new ReceiptStore({ dbName })
    first.keep(kept(A, 1))
    first.keep(kept(A, 2))
    await first.close()
    // Someone wrote junk into the store: it is not shown as work.
    await new Promise<void>((resolve, reject) => {
      const req = indexedDB.open(dbName)
      req.onerror = () => reject(req.error)
      req.onsuccess = () => {
        const tx = req.result.transaction('receipts', 'readwrite')
        tx.objectStore('receipts').add({ campaign: A, role: 'sender', receipt: { campaign: A } })
        tx.oncomplete = () => { req.result.close(); resolve() }
        tx.onerror = () => reject(tx.error)
      }
    })
    const reopened = new ReceiptStore({ dbName })
    expect(await reopened.list(A)).toEqual([kept(A, 1), kept(A, 2)])
    await reopened.close()
  })
})
