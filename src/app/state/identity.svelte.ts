// Who this tab is: its libp2p PeerId (its slot's key in the profile's pool, tab-slot.ts) and, once
// signed in with Ethereum, the address it is bound to (DESIGN.md "Identity"). The signed-in
// address is kept in IndexedDB so a reload shows it without asking the wallet again.
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { getAddress } from 'ethers'
import { discoverWallets, requestAccounts, type WalletOption } from '../../identity/wallet.ts'
import { signInWithEthereum } from '../../identity/sign-in.ts'
import { MAX_PEERS_PER_SIGN_IN } from '../../identity/constants.ts'
import { kvGet, kvSet } from './tab-store.ts'
import { displayKey, pooledKeys } from './tab-slot.ts'

/** What IndexedDB keeps after a sign-in: the address and the PeerId it was bound to. */
interface StoredSignIn {
  address: string
  /** The tab's PeerId the sign-in ran in. */
  peerId: string
  /** Every PeerId of this browser's key pool bound by the sign-in (all of its tabs). */
  peerIds?: string[]
  at: number
}

const SIGN_IN_KEY = 'siwe-sign-in'

export type IdentityStep = 'loading' | 'no-wallet' | 'pick' | 'connected' | 'signed-in'

class IdentityState {
  /** This tab's PeerId (the one its work is credited to). */
  peerId = $state<string | null>(null)
  /** The tracker's PeerId (`GET /api/health`): the key epoch roots must be signed by. */
  trackerPeerId = $state<string | null>(null)
  wallets = $state.raw<WalletOption[]>([])
  discovering = $state(false)
  /** Discovery ran at least once. */
  discovered = $state(false)
  /** The wallet the user picked and the account it shared (not yet signed in). */
  wallet = $state.raw<WalletOption | null>(null)
  account = $state<string | null>(null)
  /** The address this PeerId is bound to, after a sign-in here or one kept from before. */
  address = $state<string | null>(null)
  /** Whether the tracker still lists this PeerId under `address` (null: not checked). */
  confirmed = $state<boolean | null>(null)
  /** Something the user should know that is not an error of the last action. */
  notice = $state<string | null>(null)
  busy = $state<'connecting' | 'signing' | null>(null)
  error = $state<string | null>(null)

  #key: PrivateKey | undefined
  #loaded: Promise<void> | undefined

  get step (): IdentityStep {
    if (this.peerId == null) return 'loading'
    if (this.address != null) return 'signed-in'
    if (this.account != null) return 'connected'
    return this.discovered && this.wallets.length === 0 ? 'no-wallet' : 'pick'
  }

  /** Loads the PeerId and any kept sign-in, then looks for wallets. Safe to call again. */
  load (): Promise<void> {
    this.#loaded ??= this.#load().catch(err => {
      this.error = `Could not load this tab's identity: ${(err as Error).message}`
      this.#loaded = undefined
    })
    return this.#loaded
  }

  async #load (): Promise<void> {
    const health = await (await fetch('/api/health')).json() as { peerId: string }
    this.trackerPeerId = health.peerId
    this.#key = await this.#peerKey()
    const peerId = peerIdFromPrivateKey(this.#key).toString()
    const kept = await kvGet<StoredSignIn>(SIGN_IN_KEY).catch(() => undefined)
    if (kept != null && (kept.peerId === peerId || (kept.peerIds ?? []).includes(peerId))) await this.#confirm(kept.address, peerId)
    else if (kept != null) this.notice = `This browser signed in as ${kept.address}, but this tab's identity is newer than that sign-in. Sign in again to bind it too.`
    this.peerId = peerId
    if (this.address == null) await this.discover()
  }

  /**
   * This tab's own key from the profile's pool (tab-slot.ts), the one its libp2p node uses; a
   * page that never joined the network shows the profile's first key and claims no slot.
   */
  async #peerKey (): Promise<PrivateKey> {
    return await displayKey()
  }

  /**
   * Shows a kept sign-in only while the tracker still lists the binding (this tracker's data may
   * have been reset, or the sign-in was made with another tracker); otherwise asks for a new one.
   */
  async #confirm (address: string, peerId: string): Promise<void> {
    let listed: boolean | null = null
    try {
      const res = await fetch(`/api/identity/${encodeURIComponent(address)}`)
      const body = await res.json() as { peerIds?: string[] }
      if (res.ok) listed = (body.peerIds ?? []).includes(peerId)
    } catch {}
    if (listed === false) {
      this.notice = `This tab signed in as ${address} before, but the tracker no longer lists that binding. Sign in again to be credited.`
      return
    }
    this.address = address
    this.confirmed = listed
  }

  /** EIP-6963 discovery (falls back to `window.ethereum`). */
  async discover (): Promise<void> {
    this.discovering = true
    try {
      this.wallets = await discoverWallets()
    } finally {
      this.discovering = false
      this.discovered = true
    }
  }

  /** Asks the picked wallet for its account (the wallet's own connect prompt). */
  async connect (wallet: WalletOption): Promise<void> {
    this.error = null
    this.busy = 'connecting'
    try {
      const [account] = await requestAccounts(wallet.provider)
      this.wallet = wallet
      this.account = account
    } catch (err) {
      this.error = (err as Error).message
    } finally {
      this.busy = null
    }
  }

  /** Back to the wallet list (nothing was signed yet). */
  disconnect (): void {
    this.wallet = null
    this.account = null
    this.error = null
  }

  /**
   * Nonce → one SIWE message naming every key in this browser's pool (all of its tabs, this one
   * first) → one wallet signature and a signature by each key → tracker. One sign-in binds all tabs.
   */
  async signIn (): Promise<void> {
    if (this.wallet == null || this.account == null || this.#key == null || this.peerId == null) return
    this.error = null
    this.busy = 'signing'
    try {
      const own = this.#key
      const others = (await pooledKeys()).map(k => k.privateKey).filter(k => !k.equals(own)).slice(0, MAX_PEERS_PER_SIGN_IN - 1)
      const { address, peerIds } = await signInWithEthereum({ provider: this.wallet.provider, address: this.account, privateKey: own, otherKeys: others })
      const bound = peerIds ?? [this.peerId] // a tracker from before multi-tab sign-in
      const left = others.length + 1 - bound.length
      this.notice = left > 0 ? `Signed in. ${left} other tab identit${left === 1 ? 'y' : 'ies'} of this browser stay credited to the address they were bound to before.` : null
      const kept: StoredSignIn = { address: getAddress(address), peerId: this.peerId, peerIds: bound, at: Date.now() }
      await kvSet(SIGN_IN_KEY, kept).catch(() => {})
      this.address = kept.address
      this.confirmed = true
    } catch (err) {
      this.error = (err as Error).message
    } finally {
      this.busy = null
    }
  }
}

export const identity = new IdentityState()
