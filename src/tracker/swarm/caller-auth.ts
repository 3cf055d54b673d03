// Who is calling: a mutating swarm call must carry its tab's signature (identity/swarm-call-
// signature.ts). A missing, malformed, stale or forged signature, or a replayed one, is a 401;
// a body naming another peerId than the signer is a 403 (routes.ts). The replay cache only has
// to remember nonces for the accepted time window: anything older is refused by its time.
import type { IncomingMessage } from 'node:http'
import { CALL_HEADERS, verifyCallSignature } from '../../identity/swarm-call-signature.ts'
import { TooManyRequestsError, UnauthorizedError } from '../errors.ts'

/**
 * How far a call's time may be from the tracker's clock. Tabs correct their clock from the
 * reply's Date header (1 s resolution), so this only has to absorb a request's flight time
 * and that rounding; a minute is lenient and keeps the replay cache small.
 */
export const CALL_SKEW_MS = 60_000

/**
 * Nonces remembered at most (~200 bytes each, 40 MB): a nonce is kept until its call's time is
 * CALL_SKEW_MS old. A tab makes about one call a second (heartbeat every 2 s, a completion per
 * microbatch), so this covers ~3,000 busy tabs; past it new calls get a 429 rather than the cache
 * forgetting nonces that could then be replayed.
 */
export const MAX_REMEMBERED_NONCES = 200_000

const PEER = /^[1-9A-HJ-NP-Za-km-z]{32,64}$/
const NONCE = /^[0-9a-f]{32}$/
const TIME = /^\d{1,16}$/
const SIGNATURE = /^[A-Za-z0-9+/]{86}==$/

export interface CallerAuthInit {
  /** @default Date.now */
  now?: () => number
  /** @default CALL_SKEW_MS */
  skewMs?: number
  /** @default MAX_REMEMBERED_NONCES */
  maxNonces?: number
}

export interface CallerAuth {
  /** The PeerId that signed this call; throws UnauthorizedError (401) otherwise. */
  authenticate(req: IncomingMessage, path: string, body: unknown): Promise<string>
}

export function createCallerAuth (init: CallerAuthInit = {}): CallerAuth {
  const now = init.now ?? Date.now
  const skew = init.skewMs ?? CALL_SKEW_MS
  const max = init.maxNonces ?? MAX_REMEMBERED_NONCES
  /** `peer/nonce` → when it may be forgotten: its call is stale from then on (insertion order ≈ expiry order; a late one lingers, never leaves early). */
  const seen = new Map<string, number>()

  function prune (t: number): void {
    for (const [k, until] of seen) {
      if (until > t) break
      seen.delete(k)
    }
  }

  const header = (req: IncomingMessage, name: string): string | undefined => {
    const v = req.headers[name]
    return typeof v === 'string' ? v : undefined
  }

  return {
    async authenticate (req, path, body) {
      const peerId = header(req, CALL_HEADERS.peer)
      const time = header(req, CALL_HEADERS.time)
      const nonce = header(req, CALL_HEADERS.nonce)
      const signature = header(req, CALL_HEADERS.signature)
      if (peerId == null || time == null || nonce == null || signature == null) {
        throw new UnauthorizedError(`unsigned swarm call: sign it with the tab's libp2p key (${Object.values(CALL_HEADERS).join(', ')})`)
      }
      if (!PEER.test(peerId) || !TIME.test(time) || !NONCE.test(nonce) || !SIGNATURE.test(signature)) {
        throw new UnauthorizedError('malformed call signature headers')
      }
      const t = now()
      const at = Number(time)
      if (Math.abs(at - t) > skew) throw new UnauthorizedError(`call time is ${Math.round((at - t) / 1000)} s off the tracker's clock (allowed ±${skew / 1000} s); sync the clock from the Date header`)
      const key = `${peerId}/${nonce}`
      prune(t)
      if (seen.has(key)) throw new UnauthorizedError('replayed call: this nonce was already used')
      if (seen.size >= max) throw new TooManyRequestsError('too many signed calls in flight; retry shortly', 1)
      if (!await verifyCallSignature({ method: req.method ?? '', path, peerId, time: at, nonce, body }, signature)) {
        throw new UnauthorizedError('call signature is not by the PeerId it names')
      }
      // Checked again after the await: of two concurrent copies only one gets through.
      if (seen.has(key)) throw new UnauthorizedError('replayed call: this nonce was already used')
      seen.set(key, at + skew)
      return peerId
    }
  }
}
