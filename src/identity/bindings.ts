// Which PeerIds (tabs) each address has proven to control. Credits of a bound PeerId follow
// to its address (ledger/ownership.ts). A PeerId binds to one address, the first that signs in
// with it: rebinding would let whoever holds a tab's key move that tab's past credit.
import { getAddress } from 'ethers'
import { MAX_PEERS_PER_ADDRESS } from './constants.ts'
import { InvalidAddressError, PeerAlreadyBoundError, TooManyPeersError } from './errors.ts'

export interface Binding {
  /** EIP-55 checksummed. */
  address: string
  peerId: string
  /** When it was made, ms since the epoch. */
  time: number
}

export interface BindingsInit {
  /**
   * Bindings to start from (a reloaded file), in the order they were made.
   * @default []
   */
  initial?: Iterable<Binding>
  /**
   * Called with each new binding before it takes effect; it throws to refuse (a failed write).
   * @default nothing
   */
  persist?: (binding: Binding) => void
  /**
   * PeerIds one address may bind.
   * @default MAX_PEERS_PER_ADDRESS
   */
  maxPeersPerAddress?: number
  /**
   * Clock, in ms.
   * @default Date.now
   */
  now?: () => number
}

export interface Bindings {
  /** Binds; true if new, false if this pair was bound already. Throws PeerAlreadyBoundError, TooManyPeersError. */
  bind(address: string, peerId: string): boolean
  /**
   * Binds a browser's tabs in one go, all or nothing: the first PeerId must be free or already
   * this address's; the others that are bound to another address stay so and are left out.
   * Returns the PeerIds now bound to this address. Throws as bind does.
   */
  bindAll(address: string, peerIds: readonly string[]): string[]
  /** PeerIds bound to the address (any case), oldest first. */
  peerIdsOf(address: string): string[]
  /** The checksummed address a PeerId is bound to. */
  addressOf(peerId: string): string | undefined
  all(): Binding[]
}

/** EIP-55 checksum form of an address; throws InvalidAddressError. */
export function checksumAddress (address: unknown): string {
  try {
    if (typeof address !== 'string') throw new Error('not a string')
    // Accept any case (URLs get lower-cased), but a mixed-case address must have a valid checksum.
    return getAddress(address)
  } catch {
    throw new InvalidAddressError(`not an Ethereum address: ${String(address).slice(0, 64)}`)
  }
}

export function createBindings (init: BindingsInit = {}): Bindings {
  const max = init.maxPeersPerAddress ?? MAX_PEERS_PER_ADDRESS
  const now = init.now ?? Date.now
  const byPeer = new Map<string, Binding>()
  const byAddress = new Map<string, string[]>()

  const apply = (b: Binding): void => {
    byPeer.set(b.peerId, b)
    const peers = byAddress.get(b.address) ?? []
    peers.push(b.peerId)
    byAddress.set(b.address, peers)
  }
  for (const b of init.initial ?? []) {
    if (!byPeer.has(b.peerId)) apply({ ...b, address: checksumAddress(b.address) })
  }

  return {
    bind (address, peerId) {
      const checksummed = checksumAddress(address)
      const existing = byPeer.get(peerId)
      if (existing != null) {
        if (existing.address === checksummed) return false
        throw new PeerAlreadyBoundError('this tab is already bound to another address; open a new tab profile to use another')
      }
      if ((byAddress.get(checksummed)?.length ?? 0) >= max) {
        throw new TooManyPeersError(`an address may bind at most ${max} tabs`)
      }
      const b = { address: checksummed, peerId, time: now() }
      init.persist?.(b)
      apply(b)
      return true
    },
    bindAll (address, peerIds) {
      const checksummed = checksumAddress(address)
      const boundElsewhere = (p: string): boolean => { const a = byPeer.get(p)?.address; return a != null && a !== checksummed }
      // The tab that signs in must be bindable; a sibling tab already bound elsewhere stays there.
      if (peerIds.length > 0 && boundElsewhere(peerIds[0])) {
        throw new PeerAlreadyBoundError('this tab is already bound to another address; open a new tab profile to use another')
      }
      const mine = peerIds.filter(p => !boundElsewhere(p))
      const fresh = mine.filter(p => !byPeer.has(p))
      if ((byAddress.get(checksummed)?.length ?? 0) + fresh.length > max) {
        throw new TooManyPeersError(`an address may bind at most ${max} tabs`)
      }
      for (const p of fresh) this.bind(checksummed, p)
      return mine
    },
    peerIdsOf (address) {
      return [...(byAddress.get(checksumAddress(address)) ?? [])]
    },
    addressOf (peerId) {
      return byPeer.get(peerId)?.address
    },
    all () {
      return [...byPeer.values()]
    }
  }
}
