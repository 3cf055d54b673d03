// The receipts this browser's tabs signed, in IndexedDB (a database of its own, so the main
// one's schema stays as it is): the newest MAX_KEPT_PER_CAMPAIGN per campaign, oldest dropped
// first. A tab signs a few receipts a second, so writes are batched into one transaction.
import { openDB, type IDBPDatabase } from 'idb'
import { MAX_KEPT_PER_CAMPAIGN, overflow, parseKept, type KeptReceipt } from './kept-receipt.ts'

export const RECEIPTS_DB = 'tabgrad-receipts'
const STORE = 'receipts'
/** Index on [campaign, seq]: one campaign's receipts, oldest first. */
const BY_CAMPAIGN = 'campaign-seq'
/** Pending receipts are written at most this long after they were signed. */
const FLUSH_MS = 500

function openReceiptDb (name: string): Promise<IDBPDatabase> {
  return openDB(name, 1, {
    upgrade (d) {
      const s = d.createObjectStore(STORE, { keyPath: 'seq', autoIncrement: true })
      s.createIndex(BY_CAMPAIGN, ['campaign', 'seq'])
    }
  })
}

export interface ReceiptStoreInit {
  /** Receipts kept per campaign. @default MAX_KEPT_PER_CAMPAIGN */
  max?: number
  /** @default RECEIPTS_DB */
  dbName?: string
}

const campaignRange = (campaign: string): IDBKeyRange => IDBKeyRange.bound([campaign, -Infinity], [campaign, Infinity])

export class ReceiptStore {
  readonly #max: number
  readonly #dbName: string
  #db: Promise<IDBPDatabase> | undefined
  #pending: KeptReceipt[] = []
  #timer: ReturnType<typeof setTimeout> | undefined
  #flushing: Promise<void> = Promise.resolve()

  constructor (init: ReceiptStoreInit = {}) {
    this.#max = init.max ?? MAX_KEPT_PER_CAMPAIGN
    this.#dbName = init.dbName ?? RECEIPTS_DB
  }

  #open (): Promise<IDBPDatabase> {
    this.#db ??= openReceiptDb(this.#dbName)
    return this.#db
  }

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
      const tx = (await this.#open()).transaction(STORE, 'readwrite')
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
    const rows = await (await this.#open()).getAllFromIndex(STORE, BY_CAMPAIGN, campaignRange(campaign))
    return rows.map(parseKept).filter((r): r is KeptReceipt => r != null)
  }

  /** Writes what is queued and closes the database (a later call opens it again). */
  async close (): Promise<void> {
    await this.flush()
    const db = this.#db
    this.#db = undefined
    if (db != null) (await db).close()
  }
}

/** The page's one store (every page of the profile writes to the same database). */
export const receiptStore = new ReceiptStore()

// A closing page writes what it still holds (best effort: the browser may cut it short).
if (typeof window !== 'undefined') window.addEventListener('pagehide', () => { void receiptStore.flush() })
