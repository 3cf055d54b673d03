// `GET /api/ice`: the STUN and TURN servers a tab hands to WebRTC, with short-lived TURN
// credentials in coturn's `use-auth-secret` REST scheme (draft-uberti-behave-turn-rest-00):
// username = "<unix expiry>:<label>", credential = base64(HMAC-SHA1(secret, username)).
import { createHmac } from 'node:crypto'

export interface IceRouteInit {
  /** @default [] */
  stun?: string[]
  /** @default [] */
  turn?: string[]
  /** Required when `turn` is set. */
  turnSecret?: string
  /** @default 3600 */
  turnTtlS?: number
}

export interface IceServerJson { urls: string[], username?: string, credential?: string }

/** The body of `GET /api/ice`. `expiresAt` (ms since the epoch) is null when nothing expires. */
export interface IceResponse {
  iceServers: IceServerJson[]
  expiresAt: number | null
  /** False when no STUN or TURN is configured: tabs then reach only peers on their own network. */
  natTraversal: boolean
}

export interface TurnCredential { username: string, credential: string, expiresAt: number }

export function turnCredential (secret: string, ttlS: number, nowMs: number, label = 'tabgrad'): TurnCredential {
  const expiry = Math.floor(nowMs / 1000) + ttlS
  const username = `${expiry}:${label}`
  const credential = createHmac('sha1', secret).update(username).digest('base64')
  return { username, credential, expiresAt: expiry * 1000 }
}

export function iceResponse (init: IceRouteInit, nowMs = Date.now()): IceResponse {
  const iceServers: IceServerJson[] = []
  let expiresAt: number | null = null
  if ((init.stun ?? []).length > 0) iceServers.push({ urls: [...init.stun!] })
  if ((init.turn ?? []).length > 0) {
    if (init.turnSecret == null) throw new Error('TURN servers need a secret')
    const cred = turnCredential(init.turnSecret, init.turnTtlS ?? 3600, nowMs)
    iceServers.push({ urls: [...init.turn!], username: cred.username, credential: cred.credential })
    expiresAt = cred.expiresAt
  }
  return { iceServers, expiresAt, natTraversal: iceServers.length > 0 }
}
