// The tab's own IndexedDB: its libp2p key (a stable PeerId across reloads), settings, and later
// stage checkpoints and receipts.
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
