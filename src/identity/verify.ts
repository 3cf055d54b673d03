// Tracker side of sign-in: checks a SIWE message, its wallet signature and the signature of each
// tab PeerId it names (one browser's tabs sign in together), offline (siwe's parser + ethers' EIP-191 recovery; no RPC, so no EIP-1271
// contract wallets). Every failure is a typed error from errors.ts that maps to a 4xx.
import { SiweMessage } from 'siwe'
import { verifyMessage } from 'ethers'
import { peerIdFromString } from '@libp2p/peer-id'
import { fromString as bytesFromString } from 'uint8arrays/from-string'
import { toString as bytesToString } from 'uint8arrays/to-string'
import {
  CLOCK_SKEW_MS, MAX_PEERS_PER_SIGN_IN, MAX_SIGNATURE_CHARS, MAX_SIWE_MESSAGE_BYTES, PEER_RESOURCE_PREFIX
} from './constants.ts'
import {
  BadPeerSignatureError, BadSignatureError, DomainMismatchError, ExpiredMessageError,
  InvalidNonceError, MalformedMessageError, MissingPeerResourceError, MissingPeerSignatureError,
  NotYetValidMessageError
} from './errors.ts'
import type { NonceStore } from './nonce-store.ts'

/** Body of `POST /api/siwe/verify` (DESIGN.md tracker API). */
export interface SignInRequest {
  /** EIP-4361 message text, exactly as the wallet signed it. */
  message: string
  /** EIP-191 `personal_sign` signature by the address, 0x-hex. */
  signature: string
  /** Standard-base64 Ed25519 signature of the message's UTF-8 bytes by the tab's libp2p key (a message naming one PeerId). */
  peerSignature?: string
  /** One such signature per `libp2p:` resource, in the message's order (a message naming a browser's several tabs). */
  peerSignatures?: string[]
}

export interface SignIn {
  /** EIP-55 checksummed address. */
  address: string
  /** PeerId from the message's first `libp2p:` resource (the tab that signed in). */
  peerId: string
  /** Every PeerId the message names, each proven by its signature; `peerIds[0] === peerId`. */
  peerIds: string[]
}

// ---- EIP-4361 layer (the conformance vectors exercise exactly this)

export interface VerifySiweInit {
  /** Expected `domain` (the app's host, e.g. `127.0.0.1:8080`); several if the app has aliases. */
  domain: string | readonly string[]
  /**
   * Whether the message's nonce is acceptable; checked before the costly signature recovery.
   * @default accept any nonce
   */
  isKnownNonce?: (nonce: string) => boolean
  /**
   * Current time in ms.
   * @default Date.now()
   */
  now?: number
}

/** Parses the message text; throws MalformedMessageError. */
export function parseSiwe (message: unknown): SiweMessage {
  if (typeof message !== 'string' || message.length === 0) {
    throw new MalformedMessageError('message must be a non-empty string')
  }
  if (new TextEncoder().encode(message).length > MAX_SIWE_MESSAGE_BYTES) {
    throw new MalformedMessageError(`message is longer than ${MAX_SIWE_MESSAGE_BYTES} bytes`)
  }
  try {
    return new SiweMessage(message)
  } catch (err) {
    // The parser throws strings or Errors whose text can span lines; keep the first one.
    const why = String(err instanceof Error ? err.message : err).split('\n')[0]
    throw new MalformedMessageError(`not an EIP-4361 message: ${why}`)
  }
}

/** Checks domain, nonce, validity window and wallet signature; returns the parsed message. */
export function verifySiwe (message: unknown, signature: unknown, init: VerifySiweInit): SiweMessage {
  const siwe = parseSiwe(message)
  const now = init.now ?? Date.now()

  const domains = typeof init.domain === 'string' ? [init.domain] : init.domain
  if (!domains.includes(siwe.domain)) {
    throw new DomainMismatchError(`message is for ${siwe.domain}, not this site`)
  }
  if (init.isKnownNonce != null && !init.isKnownNonce(siwe.nonce)) {
    throw new InvalidNonceError('unknown, expired or already used nonce; ask for a new one')
  }
  if (siwe.expirationTime != null && now >= Date.parse(siwe.expirationTime)) {
    throw new ExpiredMessageError('message has expired')
  }
  if (siwe.notBefore != null && now < Date.parse(siwe.notBefore)) {
    throw new NotYetValidMessageError('message is not valid yet (Not Before)')
  }

  if (typeof signature !== 'string' || signature.length > MAX_SIGNATURE_CHARS) {
    throw new BadSignatureError('signature must be a 0x-hex string')
  }
  let recovered: string
  try {
    // Recover over the exact text the wallet signed, not a re-serialisation of it.
    recovered = verifyMessage(message as string, signature)
  } catch {
    throw new BadSignatureError('signature is not a valid EIP-191 signature')
  }
  if (recovered !== siwe.address) {
    throw new BadSignatureError('signature is not by the message\'s address')
  }
  return siwe
}

// ---- tabgrad layer: the PeerId binding

export interface VerifySignInInit extends VerifySiweInit {
  /** Issued nonces; the message's nonce is used up only when everything else checks out. */
  nonces: NonceStore
}

/** The PeerIds named by the message's `libp2p:` resources: 1 to MAX_PEERS_PER_SIGN_IN, distinct. */
export function peerIdsOfMessage (siwe: SiweMessage): string[] {
  const named = (siwe.resources ?? []).filter(r => r.startsWith(PEER_RESOURCE_PREFIX)).map(r => r.slice(PEER_RESOURCE_PREFIX.length))
  if (named.length === 0 || named.length > MAX_PEERS_PER_SIGN_IN) {
    throw new MissingPeerResourceError(`message must name 1 to ${MAX_PEERS_PER_SIGN_IN} ${PEER_RESOURCE_PREFIX}<peerId> resources`)
  }
  if (new Set(named).size !== named.length) throw new MissingPeerResourceError('message names a PeerId twice')
  return named
}

/** The request's peer signatures, one per named PeerId: `peerSignature` alone, or the `peerSignatures` list. */
function peerSignaturesOf (req: Partial<SignInRequest>, count: number): string[] {
  const { peerSignature, peerSignatures } = req
  if (peerSignatures !== undefined) {
    if (peerSignature !== undefined) throw new MissingPeerSignatureError('send peerSignature or peerSignatures, not both')
    if (!Array.isArray(peerSignatures) || peerSignatures.length !== count) {
      throw new MissingPeerSignatureError(`peerSignatures must list ${count} signature(s), one per libp2p: resource, in order`)
    }
    return peerSignatures
  }
  if (count !== 1) throw new MissingPeerSignatureError(`the message names ${count} PeerIds: send peerSignatures, one per libp2p: resource, in order`)
  if (typeof peerSignature !== 'string' || peerSignature.length === 0) {
    throw new MissingPeerSignatureError('peerSignature is required: sign the message with the tab\'s libp2p key')
  }
  return [peerSignature]
}

/** Checks that `peerSignature` is `peerIdText`'s Ed25519 signature of `message`. */
async function verifyPeerSignature (message: string, peerIdText: string, peerSignature: unknown): Promise<void> {
  let publicKey
  try {
    publicKey = peerIdFromString(peerIdText).publicKey
  } catch {
    throw new MissingPeerResourceError(`${PEER_RESOURCE_PREFIX}${peerIdText.slice(0, 80)} is not a PeerId`)
  }
  if (publicKey?.type !== 'Ed25519') {
    throw new MissingPeerResourceError('the PeerId must be an Ed25519 key (the tab\'s libp2p identity)')
  }
  if (typeof peerSignature !== 'string' || peerSignature.length === 0) {
    throw new MissingPeerSignatureError('every peer signature must be a non-empty string')
  }
  let sig: Uint8Array
  try {
    if (peerSignature.length > MAX_SIGNATURE_CHARS) throw new Error('too long')
    sig = bytesFromString(peerSignature, 'base64pad')
    // The decoder tolerates missing padding: accept only the one canonical spelling of a signature.
    if (bytesToString(sig, 'base64pad') !== peerSignature) throw new Error('not canonical')
  } catch {
    throw new BadPeerSignatureError('peer signatures must be standard base64')
  }
  let ok = false
  try {
    ok = await publicKey.verify(new TextEncoder().encode(message), sig)
  } catch {}
  if (!ok) {
    throw new BadPeerSignatureError(`the peer signature for ${peerIdText.slice(0, 80)} is not by that PeerId`)
  }
}

export async function verifySignIn (req: unknown, init: VerifySignInInit): Promise<SignIn> {
  const { message, signature } = (req ?? {}) as Partial<SignInRequest>
  const { nonces } = init
  const siwe = verifySiwe(message, signature, { ...init, isKnownNonce: n => nonces.has(n) })
  // Stricter than EIP-4361 (whose vectors accept it): our messages come from our own builder, so
  // an `Issued At` in the future means a wrong clock or a pre-signed message.
  if (siwe.issuedAt != null && Date.parse(siwe.issuedAt) > (init.now ?? Date.now()) + CLOCK_SKEW_MS) {
    throw new NotYetValidMessageError('message is issued in the future; check the clock')
  }

  const peerIds = peerIdsOfMessage(siwe)
  const signatures = peerSignaturesOf((req ?? {}) as Partial<SignInRequest>, peerIds.length)
  // In order, so the first bad one is the error the client sees.
  for (let i = 0; i < peerIds.length; i++) await verifyPeerSignature(message as string, peerIds[i], signatures[i])

  // Last, so that a failed attempt does not burn the user's nonce; consume() is atomic, so of
  // two concurrent requests with the same nonce only one gets through.
  if (!nonces.consume(siwe.nonce)) {
    throw new InvalidNonceError('unknown, expired or already used nonce; ask for a new one')
  }
  return { address: siwe.address, peerId: peerIds[0], peerIds }
}
