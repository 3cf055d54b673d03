// The receipts this browser's tabs signed, in IndexedDB (a database of its own, so the main
// one's schema stays as it is): the newest MAX_KEPT_PER_CAMPAIGN per campaign, oldest dropped
// first. A tab signs a few receipts a second, so writes are batched into one transaction.
import { openDB, type IDBPDatabase } from 'idb'
import { MAX_KEPT_PER_CAMPAIGN, overflow, parseKept, type KeptReceipt } from './kept-receipt.ts'

const DB_NAME = 'tabgrad-receipts'
const STORE = 'receipts'
/** Index on [campaign, seq]: one campaign's receipts, oldest first. */
const BY_CAMPAIGN = 'campaign-seq'
/** Pending receipts are written at most this long after they were signed. */
const FLUSH_MS = 500

let db: Promise<IDBPDatabase> | undefined

function receiptDb (): Promise<IDBPDatabase> {
  db ??= openDB(DB_NAME, 1, {
    upgrade (d) {
      const s = d.createObjectStore(STORE, { keyPath: 'seq', autoIncrement: true })
      s.createIndex(BY_CAMPAIGN, ['campaign', 'seq'])
    }
  })
  return db
}

const campaignRange = (campaign: string): IDBKeyRange => IDBKeyRange.bound([campaign, -Infinity], [campaign, Infinity])

export class ReceiptStore {
  readonly #max: number
  #pending: KeptReceipt[] = []
  #timer: ReturnType<typeof setTimeout> | undefined
  #flushing: Promise<void> = Promise.resolve()

  constructor (max = MAX_KEPT_PER_CAMPAIGN) { this.#max = max }

  /** Queues a receipt; it is written within FLUSH_MS. Never throws into the signing path. */
  keep (r: KeptReceipt): void {
    this.#pending.push(r)
    this.#timer ??= setTimeout(() => { void this.flush() }, FLUSH_MS)
  }

  /** Writes what is queued, then drops each touched campaign's oldest beyond the bound. */
  flush (): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const batch = this.#pending
    this.#pending = []
    this.#flushing = this.#flushing.then(async () => {
      if (batch.length === 0) return
      const tx = (await receiptDb()).transaction(STORE, 'readwrite')
      const store = tx.objectStore(STORE)
      for (const r of batch) void store.add(r)
      for (const campaign of new Set(batch.map(r => r.campaign))) {
        let drop = overflow(await store.index(BY_CAMPAIGN).count(campaignRange(campaign)), this.#max)
        let cursor = drop > 0 ? await store.index(BY_CAMPAIGN).openCursor(campaignRange(campaign)) : null
        while (cursor != null && drop > 0) {
          await cursor.delete()
          drop--
          cursor = await cursor.continue()
        }
      }
      await tx.done
    }).catch(err => { console.warn('tabgrad: could not keep receipts:', (err as Error).message) })
    return this.#flushing
  }

  /** A campaign's kept receipts, oldest first (what is still queued included). */
  async list (campaign: string): Promise<KeptReceipt[]> {
    await this.flush()
    const rows = await (await receiptDb()).getAllFromIndex(STORE, BY_CAMPAIGN, campaignRange(campaign))
    return rows.map(parseKept).filter((r): r is KeptReceipt => r != null)
  }
}

/** The profile's one store: every tab of this page writes to it. */
export const receiptStore = new ReceiptStore()
