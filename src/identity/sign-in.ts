// Browser: the whole sign-in as the app runs it: nonce from the tracker, SIWE message naming
// the tab's PeerId, wallet signature, PeerId signature, `POST /api/siwe/verify`.
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
  const message = buildSignInMessage({ address: init.address, peerId: peerIdFromPrivateKey(init.privateKey).toString(), nonce, origin })
  const request: SignInRequest = {
    message,
    signature: await personalSign(init.provider, init.address, message),
    peerSignature: await signWithPeerKey(init.privateKey, message)
  }
  return await call('/api/siwe/verify', request) as SignIn
}
