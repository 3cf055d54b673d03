// The sign-in and identity part of the tracker API (DESIGN.md table), as a plain function
// the HTTP server mounts:
//
//   const r = await identityRoutes({ method, path, host: req.headers.host, readBody: () => readJsonBody(req) })
//   if (r != null) { sendJson(res, r.status, r.body); return }
//
// Errors of the request come back as a 4xx `{error}` with one line; anything else throws.
import type { Bindings } from '../identity/bindings.ts'
import { checksumAddress } from '../identity/bindings.ts'
import { IdentityError } from '../identity/errors.ts'
import type { NonceStore } from '../identity/nonce-store.ts'
import { verifySignIn } from '../identity/verify.ts'

export interface IdentityRoutesInit {
  nonces: NonceStore
  /** Address ↔ PeerId bindings (identity/bindings-file.ts on the tracker). */
  bindings: Bindings
  /**
   * Hosts (`host[:port]`) a SIWE message may name. Set it when the public host is known: the
   * fallback trusts the request's Host header, which a client can set, so it only stops
   * messages signed for another site when they are replayed through a browser.
   * @default [the request's Host header]
   */
  domains?: readonly string[]
  /**
   * Clock, in ms.
   * @default Date.now
   */
  now?: () => number
}

export interface IdentityRequest {
  method: string
  /** URL path without the query, e.g. `/api/siwe/nonce`. */
  path: string
  /** The Host header. */
  host?: string
  /** Reads the JSON body; only called for `POST /api/siwe/verify`. */
  readBody?: () => Promise<unknown>
  /** The JSON body, if already read. */
  body?: unknown
}

export interface RouteResult {
  status: number
  body: unknown
}

export type IdentityRoutes = (req: IdentityRequest) => Promise<RouteResult | undefined>

const fail = (status: number, error: string): RouteResult => ({ status, body: { error } })

export function createIdentityRoutes (init: IdentityRoutesInit): IdentityRoutes {
  const { nonces, bindings } = init
  const now = init.now ?? Date.now

  async function route (req: IdentityRequest): Promise<RouteResult | undefined> {
    if (req.path === '/api/siwe/nonce') {
      if (req.method !== 'GET') return fail(405, 'use GET')
      return { status: 200, body: { nonce: nonces.issue() } }
    }
    if (req.path === '/api/siwe/verify') {
      if (req.method !== 'POST') return fail(405, 'use POST')
      const body = req.body !== undefined ? req.body : await req.readBody?.()
      const domains = init.domains ?? (req.host != null ? [req.host] : [])
      const signIn = await verifySignIn(body, { domain: domains, nonces, now: now() })
      // peerIds: the named tabs now bound to the address (one bound to another address stays there).
      return { status: 200, body: { ...signIn, peerIds: bindings.bindAll(signIn.address, signIn.peerIds) } }
    }
    const m = /^\/api\/identity\/([^/]*)$/.exec(req.path)
    if (m != null) {
      if (req.method !== 'GET') return fail(405, 'use GET')
      const address = checksumAddress(decodeURIComponent(m[1]))
      return { status: 200, body: { address, peerIds: bindings.peerIdsOf(address) } }
    }
    return undefined
  }

  return async req => {
    try {
      return await route(req)
    } catch (err) {
      // Ours, and the body reader's (tracker/errors.ts HttpError): any 4xx is the client's fault.
      const status = (err as { status?: unknown }).status
      if (err instanceof IdentityError || (typeof status === 'number' && status >= 400 && status < 500)) {
        return fail(status as number, String((err as Error).message).split('\n')[0])
      }
      if (err instanceof URIError) return fail(400, 'malformed address in path')
      throw err
    }
  }
}
