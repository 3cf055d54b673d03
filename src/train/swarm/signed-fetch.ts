// Signed calls to the tracker on the tracker's clock: every request carries the tab's Ed25519
// signature (identity/swarm-call-signature.ts) timed by our clock plus the offset the last reply's
// Date header showed, and a 401 (unsigned or stale: our clock was off) is retried once on the
// corrected time. The swarm client and the seed download share one, so they share the offset.
import type { PrivateKey } from '@libp2p/interface'
import { signCall } from '../../identity/swarm-call-signature.ts'

export interface SignedFetchInit {
  peerId: string
  privateKey: PrivateKey
  /** This tab's clock. @default Date.now */
  now?: () => number
}

export interface SignedFetch {
  /** A signed request (`body` JSON-encoded for a POST); the response of the retry if the first was 401. */
  request(method: 'GET' | 'POST', url: string, opts: { body?: Record<string, unknown>, timeoutMs: number }): Promise<Response>
  /** Signs a request on the tracker's time without sending it (a leave kept ready for page unload). */
  sign(method: 'GET' | 'POST', url: string, body: Record<string, unknown>): Promise<Record<string, string>>
}

export function createSignedFetch (init: SignedFetchInit): SignedFetch {
  const now = init.now ?? Date.now
  /** Tracker clock − ours, in ms, from the last reply's Date header (1 s resolution). */
  let offsetMs = 0
  const sign = async (method: 'GET' | 'POST', url: string, body: Record<string, unknown>): Promise<Record<string, string>> =>
    await signCall(init.privateKey, { method, path: new URL(url, 'http://x').pathname, peerId: init.peerId, time: now() + offsetMs, body })

  async function once (method: 'GET' | 'POST', url: string, text: string | undefined, timeoutMs: number): Promise<Response> {
    const headers = await sign(method, url, text != null ? JSON.parse(text) : {})
    const res = await fetch(url, {
      method,
      headers: text != null ? { 'content-type': 'application/json', ...headers } : headers,
      ...(text != null ? { body: text } : {}),
      signal: AbortSignal.timeout(timeoutMs)
    })
    const date = Date.parse(res.headers.get('date') ?? '')
    // +500: the header's time was truncated to the second.
    if (Number.isFinite(date)) offsetMs = date + 500 - now()
    return res
  }

  return {
    async request (method, url, opts) {
      const text = opts.body != null ? JSON.stringify(opts.body) : undefined
      const res = await once(method, url, text, opts.timeoutMs)
      if (res.status !== 401) return res
      await res.body?.cancel()
      return await once(method, url, text, opts.timeoutMs)
    },
    sign
  }
}
