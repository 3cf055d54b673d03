// Signed-in sessions: a random token for a researcher (after SIWE) or the operator (after the
// admin link), held in memory and bounded; a tracker restart signs everyone out.
import { randomBytes } from 'node:crypto'
import { BoundedMap } from '../bounded-map.ts'

export type Principal =
  | { kind: 'researcher', address: string }
  | { kind: 'admin' }

export interface SessionStoreInit {
  /** @default 12 hours */
  ttlMs?: number
  /** Sessions kept at most; past this the least recently used ends. @default 10_000 */
  maxSessions?: number
  /** @default Date.now */
  now?: () => number
}

export interface SessionStore {
  readonly ttlMs: number
  start(who: Principal): string
  lookup(token: string): Principal | undefined
  end(token: string): void
}

export const SESSION_TTL_MS = 12 * 3600_000

export function createSessionStore (init: SessionStoreInit = {}): SessionStore {
  const ttlMs = init.ttlMs ?? SESSION_TTL_MS
  const now = init.now ?? Date.now
  const sessions = new BoundedMap<string, { who: Principal, expires: number }>(init.maxSessions ?? 10_000)
  return {
    ttlMs,
    start (who) {
      const token = randomBytes(32).toString('base64url')
      sessions.set(token, { who, expires: now() + ttlMs })
      return token
    },
    lookup (token) {
      const s = sessions.get(token)
      if (s == null) return undefined
      if (s.expires <= now()) { sessions.delete(token); return undefined }
      return s.who
    },
    end (token) { sessions.delete(token) }
  }
}

/** A stable key for limits and quotas. */
export function principalKey (who: Principal): string {
  return who.kind === 'admin' ? 'admin' : `eth:${who.address}`
}
