// One signed swarm call as a plain fetch: what tools and tests that speak to the tracker's swarm
// API directly use (the app goes through train/swarm/tracker-client.ts). Browser and Node.
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { signCall } from './swarm-call-signature.ts'

export interface SignedPostOptions {
  /** @default Date.now() */
  time?: number
  /** @default a fresh random nonce */
  nonce?: string
  /** Extra request headers (they may override the signature's). */
  headers?: Record<string, string>
}

/** POSTs `body` as JSON to `url`, signed by `key`. */
export async function signedPost (url: string, key: PrivateKey, body: unknown, opts: SignedPostOptions = {}): Promise<Response> {
  const text = JSON.stringify(body)
  const signed = await signCall(key, {
    method: 'POST',
    path: new URL(url, 'http://x').pathname,
    peerId: peerIdFromPrivateKey(key).toString(),
    time: opts.time ?? Date.now(),
    ...(opts.nonce != null ? { nonce: opts.nonce } : {}),
    body: JSON.parse(text)
  })
  return await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...signed, ...opts.headers }, body: text })
}
