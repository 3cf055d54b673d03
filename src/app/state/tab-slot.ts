// Which of this browser's tabs this is. All tabs of a profile share one IndexedDB, so a single
// stored libp2p key would give every tab the same PeerId (and the tracker would see one volunteer).
// Instead the profile keeps a pool of keys, one per slot; a tab claims a free slot with a Web Lock
// that it holds while it lives, and remembers the slot in sessionStorage so a reload (same tab,
// same sessionStorage) takes the same slot back: same PeerId, same stage, same checkpoint.
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { kvGet, tabDb } from './tab-store.ts'

export interface TabSlot {
  /** 0, 1, 2…: slot 0 uses the profile's original key, so existing volunteers keep their PeerId. */
  index: number
  privateKey: PrivateKey
}

const SESSION_KEY = 'tabgrad-tab-slot'
/** A reload's old document frees its lock as it unloads; give it this long before taking another slot. */
const RECLAIM_WAIT_MS = 3000
/** More slots than any honest use; a bound so a bug cannot loop forever. */
const MAX_SLOTS = 64

/** IndexedDB key of a slot's libp2p key. */
export const slotKeyName = (i: number): string => i === 0 ? 'libp2p-key' : `libp2p-key:${i}`
/** IndexedDB key of a slot's state in a campaign. */
export const slotCampaignKey = (i: number, campaign: string): string => i === 0 ? `swarm:${campaign}` : `swarm:${campaign}:tab${i}`

const lockName = (i: number): string => `tabgrad-tab-slot-${i}`

let claimed: Promise<TabSlot> | undefined

/** This tab's slot, claimed once per page. */
export function tabSlot (): Promise<TabSlot> {
  claimed ??= claim().catch(err => { claimed = undefined; throw err })
  return claimed
}

/**
 * The key a page that has not claimed a slot shows as "this browser's" identity (#/me opened
 * on its own): its claimed slot's if it has one, else slot 0's, the profile's first key.
 */
export async function displayKey (): Promise<PrivateKey> {
  return claimed != null ? (await claimed).privateKey : await keyOf(0)
}

async function claim (): Promise<TabSlot> {
  const remembered = Number(sessionStorage.getItem(SESSION_KEY) ?? NaN)
  let index: number | null = null
  if (navigator.locks == null) {
    // No Web Locks (very old browser): one identity per profile, as before.
    index = 0
  } else {
    if (Number.isInteger(remembered) && remembered >= 0 && await hold(remembered, RECLAIM_WAIT_MS)) index = remembered
    for (let i = 0; index == null && i < MAX_SLOTS; i++) if (await hold(i, 0)) index = i
    if (index == null) throw new Error(`more than ${MAX_SLOTS} tabs of this browser are open`)
  }
  sessionStorage.setItem(SESSION_KEY, String(index))
  return { index, privateKey: await keyOf(index) }
}

/** Takes slot `i`'s lock and keeps it until the page goes away; false if another tab holds it. */
function hold (i: number, waitMs: number): Promise<boolean> {
  return new Promise(resolve => {
    const opts: LockOptions = waitMs > 0 ? { signal: AbortSignal.timeout(waitMs) } : { ifAvailable: true }
    navigator.locks.request(lockName(i), opts, async lock => {
      if (lock == null) { resolve(false); return }
      resolve(true)
      await new Promise<never>(() => {})
    }).catch(() => { resolve(false) })
  })
}

/** Slot `i`'s key, created on first use; two tabs racing to create it settle on one. */
async function keyOf (i: number): Promise<PrivateKey> {
  const stored = await kvGet<Uint8Array>(slotKeyName(i))
  if (stored != null) return privateKeyFromProtobuf(stored)
  const fresh = privateKeyToProtobuf(await generateKeyPair('Ed25519'))
  const tx = (await tabDb()).transaction('kv', 'readwrite')
  const existing = await tx.objectStore('kv').get(slotKeyName(i)) as Uint8Array | undefined
  if (existing == null) await tx.objectStore('kv').put(fresh, slotKeyName(i))
  await tx.done
  return privateKeyFromProtobuf(existing ?? fresh)
}

/** Every key in this profile's pool (for a sign-in that binds all of this browser's tabs). */
export async function pooledKeys (): Promise<Array<{ index: number, privateKey: PrivateKey }>> {
  const out: Array<{ index: number, privateKey: PrivateKey }> = []
  for (let i = 0; i < MAX_SLOTS; i++) {
    const stored = await kvGet<Uint8Array>(slotKeyName(i))
    if (stored == null) break
    out.push({ index: i, privateKey: privateKeyFromProtobuf(stored) })
  }
  return out
}
