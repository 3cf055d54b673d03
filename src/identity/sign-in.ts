// Browser: the whole sign-in as the app runs it: nonce from the tracker, SIWE message naming
// the tab's PeerId (and this browser's other tabs'), one wallet signature, a signature by each
// PeerId's key, `POST /api/siwe/verify`.
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { toString as bytesToString } from 'uint8arrays/to-string'
import type { PrivateKey } from '@libp2p/interface'
import { IdentityError } from './errors.ts'
import { buildSignInMessage } from './siwe-message.ts'
import type { SignIn, SignInRequest } from './verify.ts'
import { personalSign, type Eip1193Provider } from './wallet.ts'

export interface SignInInit {
  provider: Eip1193Provider
  /** One of `requestAccounts(provider)`. */
  address: string
  /** The tab's libp2p key (its PeerId is what gets bound). */
  privateKey: PrivateKey
  /** This browser's other tabs' keys, bound by the same message and wallet signature. */
  otherKeys?: readonly PrivateKey[]
  /**
   * The app's origin; API paths are resolved against it.
   * @default globalThis.location.origin
   */
  origin?: string
  /**
   * HTTP client (tests pass one that calls the routes directly).
   * @default globalThis.fetch
   */
  fetch?: typeof globalThis.fetch
  /**
   * Aborts the tracker requests (the wallet prompt itself can't be cancelled).
   * @default AbortSignal.timeout(120_000): time for the user to read and sign
   */
  signal?: AbortSignal
}

/** Signs the PeerId's key over the message's UTF-8 bytes: standard base64 (DESIGN.md API table). */
export async function signWithPeerKey (privateKey: PrivateKey, message: string): Promise<string> {
  return bytesToString(await privateKey.sign(new TextEncoder().encode(message)), 'base64pad')
}

export async function signInWithEthereum (init: SignInInit): Promise<SignIn> {
  const origin = init.origin ?? globalThis.location.origin
  const fetch = init.fetch ?? globalThis.fetch
  const signal = init.signal ?? AbortSignal.timeout(120_000)
  const call = async (path: string, body?: unknown): Promise<any> => {
    const res = await fetch(new URL(path, origin), body === undefined
      ? { signal }
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal })
    const json = await res.json().catch(() => ({}))
    if (!res.ok) throw new IdentityError(`sign-in refused: ${String(json?.error ?? res.status)}`)
    return json
  }

  const { nonce } = await call('/api/siwe/nonce') as { nonce: string }
  const keys = [init.privateKey, ...(init.otherKeys ?? []).filter(k => !k.equals(init.privateKey))]
  const [peerId, ...otherPeerIds] = keys.map(k => peerIdFromPrivateKey(k).toString())
  const message = buildSignInMessage({ address: init.address, peerId, otherPeerIds, nonce, origin })
  const signature = await personalSign(init.provider, init.address, message)
  const peerSignatures = await Promise.all(keys.map(async k => await signWithPeerKey(k, message)))
  // One PeerId keeps DESIGN.md's original body, so an older tracker still understands it.
  const request: SignInRequest = keys.length === 1
    ? { message, signature, peerSignature: peerSignatures[0] }
    : { message, signature, peerSignatures }
  return await call('/api/siwe/verify', request) as SignIn
}
