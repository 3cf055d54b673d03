// The browser profile's IndexedDB, shared by all of its tabs: the pool of libp2p keys (one per
// tab slot), settings, and each slot's stage checkpoint per campaign.
import { openDB, type IDBPDatabase } from 'idb'

const DB_NAME = 'tabgrad'
const DB_VERSION = 1

export type TabDb = IDBPDatabase

let db: Promise<TabDb> | undefined

export function tabDb (): Promise<TabDb> {
  db ??= openDB(DB_NAME, DB_VERSION, {
    upgrade (d) {
      if (!d.objectStoreNames.contains('kv')) d.createObjectStore('kv')
    }
  })
  return db
}

export async function kvGet<T> (key: string): Promise<T | undefined> {
  return await (await tabDb()).get('kv', key) as T | undefined
}

export async function kvSet (key: string, value: unknown): Promise<void> {
  await (await tabDb()).put('kv', value, key)
}

/**
 * Merges `patch` into the record at `key` inside one readwrite transaction, so two writers (a
 * status update and a checkpoint save, or two tabs) never erase each other's fields: a field a
 * write does not name keeps what the last write stored.
 */
export async function kvMerge<T extends object> (key: string, patch: Partial<T>): Promise<T> {
  const tx = (await tabDb()).transaction('kv', 'readwrite')
  const store = tx.objectStore('kv')
  const old = (await store.get(key) ?? {}) as T
  const next = { ...old, ...patch }
  await store.put(next, key)
  await tx.done
  return next
}
