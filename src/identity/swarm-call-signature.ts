// Signed swarm calls: every mutating call a tab makes to the tracker's swarm API carries an
// Ed25519 signature by the tab's libp2p key (its PeerId) over the method, the path, a digest of
// the body, the time and a fresh nonce. Per request rather than a session token: nothing to
// steal or to lose when the tracker restarts, and each signature covers exactly one body.
// Browser and Node (the tab signs, the tracker verifies).
import { peerIdFromString } from '@libp2p/peer-id'
import { fromString as bytesFromString } from 'uint8arrays/from-string'
import { toString as bytesToString } from 'uint8arrays/to-string'
import type { PrivateKey } from '@libp2p/interface'
import { canonicalJson, sha256Hex, taggedBytes } from '../ledger/canonical.ts'

/** Domain tag: a swarm-call signature can never pass as a receipt or a sign-in signature. */
export const SWARM_CALL_TAG = 'tabgrad-swarm-call/1\n'

/** The headers a signed call carries (lower case, as Node reports them). */
export const CALL_HEADERS = {
  peer: 'x-tabgrad-peer',
  time: 'x-tabgrad-time',
  nonce: 'x-tabgrad-nonce',
  signature: 'x-tabgrad-signature'
} as const

export interface SignedCallFields {
  method: string
  /** URL path without the query, e.g. /api/campaigns/<id>/complete. */
  path: string
  peerId: string
  /** Milliseconds since the epoch, on the tracker's clock as the tab estimates it. */
  time: number
  /** 16 random bytes, hex: two calls in the same millisecond still differ. */
  nonce: string
  /** The parsed JSON body (its canonical form is hashed, so key order and spacing do not matter). */
  body: unknown
}

/** The bytes signed: domain tag + canonical JSON of the call with its body replaced by a SHA-256. */
export function callBytes (f: SignedCallFields): Uint8Array {
  const body = sha256Hex(new TextEncoder().encode(canonicalJson(f.body)))
  return taggedBytes(SWARM_CALL_TAG, { method: f.method.toUpperCase(), path: f.path, peerId: f.peerId, time: f.time, nonce: f.nonce, body })
}

export function randomNonce (): string {
  return bytesToString(globalThis.crypto.getRandomValues(new Uint8Array(16)), 'base16')
}

/** The headers of one signed call. */
export async function signCall (key: PrivateKey, f: Omit<SignedCallFields, 'nonce'> & { nonce?: string }): Promise<Record<string, string>> {
  const fields = { ...f, nonce: f.nonce ?? randomNonce() }
  const sig = await key.sign(callBytes(fields))
  return {
    [CALL_HEADERS.peer]: fields.peerId,
    [CALL_HEADERS.time]: String(fields.time),
    [CALL_HEADERS.nonce]: fields.nonce,
    [CALL_HEADERS.signature]: bytesToString(sig, 'base64pad')
  }
}

/** Whether `signature` (standard base64) is `fields.peerId`'s Ed25519 signature of the call. */
export async function verifyCallSignature (fields: SignedCallFields, signature: string): Promise<boolean> {
  try {
    const publicKey = peerIdFromString(fields.peerId).publicKey
    if (publicKey?.type !== 'Ed25519') return false
    const sig = bytesFromString(signature, 'base64pad')
    if (sig.length !== 64 || bytesToString(sig, 'base64pad') !== signature) return false
    return await publicKey.verify(callBytes(fields), sig)
  } catch {
    // Not a PeerId, not base64, or a body that has no canonical form: not a valid signature.
    return false
  }
}
