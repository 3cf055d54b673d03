// The EIP-4361 (Sign-In with Ethereum) message a tab asks its wallet to sign. Runs in the
// browser (to build it) and in Node (the tracker parses the same format in verify.ts).
import { SiweMessage } from 'siwe'
import { getAddress } from 'ethers'
import { MESSAGE_TTL_MS, PEER_RESOURCE_PREFIX } from './constants.ts'

export interface SignInMessageInit {
  /** Checksummed or lower-case Ethereum address of the signer. */
  address: string
  /** The tab's libp2p PeerId (bound to the address through the `libp2p:` resource). */
  peerId: string
  /** Single-use nonce from `GET /api/siwe/nonce`. */
  nonce: string
  /**
   * The app's origin, e.g. `http://127.0.0.1:8080`; its host is the message's domain.
   * @default globalThis.location.origin
   */
  origin?: string
  /**
   * Chain the address lives on (EIP-155). We only need an identity, so mainnet.
   * @default 1
   */
  chainId?: number
  /**
   * Signing time in ms since the epoch.
   * @default Date.now()
   */
  now?: number
  /**
   * How long the signed message stays valid.
   * @default MESSAGE_TTL_MS
   */
  ttlMs?: number
}

/** The statement the user reads in the wallet pop-up (EIP-4361: one line, no `\n`). */
export function signInStatement (address: string): string {
  return `Contribute compute to tabgrad campaigns as ${address}; credit the work of this browser tab to this address.`
}

/** Builds the message text to pass to `personal_sign`. */
export function buildSignInMessage (init: SignInMessageInit): string {
  const origin = new URL(init.origin ?? globalThis.location.origin)
  const address = getAddress(init.address)
  const now = init.now ?? Date.now()
  return new SiweMessage({
    domain: origin.host,
    address,
    statement: signInStatement(address),
    uri: origin.origin,
    version: '1',
    chainId: init.chainId ?? 1,
    nonce: init.nonce,
    issuedAt: new Date(now).toISOString(),
    expirationTime: new Date(now + (init.ttlMs ?? MESSAGE_TTL_MS)).toISOString(),
    resources: [PEER_RESOURCE_PREFIX + init.peerId]
  }).prepareMessage()
}
