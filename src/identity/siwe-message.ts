// The EIP-4361 (Sign-In with Ethereum) message a tab asks its wallet to sign. Browser and Node.
//
// Formatted here rather than with the `siwe` package: siwe validates by running its ABNF
// parser (apg-js), which needs Node's Buffer and fails in a Vite browser bundle. The tracker
// parses with siwe (verify.ts), and siwe-message.test.ts checks that both agree.
import { getAddress } from 'ethers'
import { MESSAGE_TTL_MS, PEER_RESOURCE_PREFIX } from './constants.ts'

export interface SignInMessageInit {
  /** Checksummed or lower-case Ethereum address of the signer. */
  address: string
  /** The tab's libp2p PeerId (bound to the address through the `libp2p:` resource). */
  peerId: string
  /** More PeerIds to bind in the same message: this browser's other tabs, one resource each. */
  otherPeerIds?: readonly string[]
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

/** The fields of an EIP-4361 message we emit (a subset: no scheme, request id or not-before). */
export interface SiweFields {
  domain: string
  address: string
  statement: string
  uri: string
  version: '1'
  chainId: number
  nonce: string
  issuedAt: string
  expirationTime?: string
  resources?: string[]
}

/** The statement the user reads in the wallet pop-up (EIP-4361: one line, no `\n`). */
export function signInStatement (address: string, tabs = 1): string {
  const what = tabs === 1 ? 'this browser tab' : `this browser's ${tabs} tabs`
  return `Contribute compute to tabgrad campaigns as ${address}; credit the work of ${what} to this address.`
}

/** EIP-4361 §"Message Format", for the fields above. */
export function formatSiweMessage (f: SiweFields): string {
  if (/[\n\r]/.test(f.statement)) throw new TypeError('SIWE statement must be one line')
  if (!/^[A-Za-z0-9]{8,}$/.test(f.nonce)) throw new TypeError('SIWE nonce must be 8+ alphanumerics')
  const lines = [
    `${f.domain} wants you to sign in with your Ethereum account:`,
    getAddress(f.address),
    '',
    f.statement,
    '',
    `URI: ${f.uri}`,
    `Version: ${f.version}`,
    `Chain ID: ${f.chainId}`,
    `Nonce: ${f.nonce}`,
    `Issued At: ${f.issuedAt}`
  ]
  if (f.expirationTime != null) lines.push(`Expiration Time: ${f.expirationTime}`)
  if (f.resources != null && f.resources.length > 0) lines.push('Resources:', ...f.resources.map(r => `- ${r}`))
  return lines.join('\n')
}

/** Builds the message text to pass to `personal_sign`. */
export function buildSignInMessage (init: SignInMessageInit): string {
  const origin = new URL(init.origin ?? globalThis.location.origin)
  const address = getAddress(init.address)
  const now = init.now ?? Date.now()
  const peerIds = [init.peerId, ...(init.otherPeerIds ?? []).filter(p => p !== init.peerId)]
  return formatSiweMessage({
    domain: origin.host,
    address,
    statement: signInStatement(address, peerIds.length),
    uri: origin.origin,
    version: '1',
    chainId: init.chainId ?? 1,
    nonce: init.nonce,
    issuedAt: new Date(now).toISOString(),
    expirationTime: new Date(now + (init.ttlMs ?? MESSAGE_TTL_MS)).toISOString(),
    resources: peerIds.map(p => PEER_RESOURCE_PREFIX + p)
  })
}
