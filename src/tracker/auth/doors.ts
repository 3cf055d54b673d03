// Who may create campaigns and upload datasets on this tracker, and how much.
//
//   - A researcher signed in with Ethereum (POST /api/siwe/verify sets an HttpOnly, SameSite=Strict
//     session cookie), or the operator: `Authorization: Bearer <admin token>`, or the browser
//     sign-in link `npm start` prints (GET /api/admin/login?token=…, which sets the cookie).
//   - Cookie sessions are refused on requests whose Origin is another site (CSRF).
//   - Per identity: a token-bucket rate limit and a quota (campaigns in total, upload bytes per
//     day); researchers together share one more bucket, since SIWE identities are free to mint.
//     The operator is exempt. Every map is bounded.
//
// Routes: GET /api/session (who am I), DELETE /api/session (sign out), GET /api/admin/login.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { ForbiddenError, MethodNotAllowedError, TooManyRequestsError, UnauthorizedError } from '../errors.ts'
import { sendJson } from '../http-util.ts'
import { BoundedMap } from '../bounded-map.ts'
import { createRateLimit, type RateLimit } from '../rate-limit.ts'
import { tokensEqual } from './admin-token.ts'
import { createSessionStore, principalKey, type Principal, type SessionStore } from './sessions.ts'
import { DOOR_LIMITS, type DoorLimits } from './limits.ts'

export const SESSION_COOKIE = 'tabgrad_session'


export type Door = 'campaign' | 'upload'

export interface DoorsInit {
  adminToken: string
  /** Addresses allowed to create; empty or absent: any signed-in address. @default [] */
  researchers?: readonly string[]
  limits?: Partial<DoorLimits>
  sessions?: SessionStore
  /** @default Date.now */
  now?: () => number
}

export interface Pass {
  who: Principal
  /** The action succeeded: count it against the identity's quota. */
  done(): void
}

export interface Doors {
  /** The caller, from a bearer token or the session cookie; undefined for an anonymous one. */
  identify(req: IncomingMessage): Principal | undefined
  /** Admits the request through a door or throws 401, 403 or 429 (with Retry-After set on `res`). */
  admit(req: IncomingMessage, res: ServerResponse, door: Door): Pass
  /** Starts a researcher session after a verified SIWE sign-in. */
  signedIn(req: IncomingMessage, res: ServerResponse, address: string): void
  /** The session routes; false if `path` is not one. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): boolean
}

function cookieOf (req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=')
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim()
  }
  return undefined
}

function bearerOf (req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S{1,512})$/i.exec(req.headers.authorization ?? '')
  return m?.[1]
}

export function createDoors (init: DoorsInit): Doors {
  const L: DoorLimits = { ...DOOR_LIMITS, ...init.limits }
  const now = init.now ?? Date.now
  const sessions = init.sessions ?? createSessionStore({ now })
  const allowed = new Set((init.researchers ?? []).map(a => a.toLowerCase()))
  const limits: Record<Door, RateLimit> = {
    campaign: createRateLimit({ burst: L.campaignBurst, everyMs: L.campaignEveryMs, maxKeys: L.maxIdentities, now }),
    upload: createRateLimit({ burst: L.uploadBurst, everyMs: L.uploadEveryMs, maxKeys: L.maxIdentities, now })
  }
  const allResearchers = createRateLimit({ burst: L.allResearchersBurst, everyMs: L.allResearchersEveryMs, maxKeys: 2, now })
  const loginFailures = createRateLimit({ burst: L.loginFailureBurst, everyMs: L.loginFailureEveryMs, maxKeys: L.maxIdentities, now })
  const campaignsOf = new BoundedMap<string, number>(L.maxIdentities)
  const uploadsOf = new BoundedMap<string, { day: number, bytes: number }>(L.maxIdentities)

  function setCookie (req: IncomingMessage, res: ServerResponse, token: string, maxAgeS: number): void {
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true ? '; Secure' : ''
    res.setHeader('set-cookie', `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`)
  }

  function identify (req: IncomingMessage): Principal | undefined {
    const bearer = bearerOf(req)
    if (bearer != null) {
      if (tokensEqual(bearer, init.adminToken)) return { kind: 'admin' }
      const who = sessions.lookup(bearer)
      if (who == null) throw new UnauthorizedError('the bearer token is not the admin token or a live session')
      return who
    }
    const cookie = cookieOf(req, SESSION_COOKIE)
    if (cookie == null) return undefined
    // Browsers send Origin on every POST: a cookie riding a request from another site is CSRF.
    const origin = req.headers.origin
    if (origin != null && origin !== 'null') {
      let host: string | undefined
      try { host = new URL(origin).host } catch {}
      if (host !== req.headers.host) throw new ForbiddenError('cross-site request refused (the Origin is not this tracker)')
    } else if (origin === 'null') throw new ForbiddenError('cross-site request refused (opaque Origin)')
    return sessions.lookup(cookie)
  }

  function limited (res: ServerResponse, waitMs: number, what: string): never {
    const s = Math.max(1, Math.ceil(waitMs / 1000))
    res.setHeader('retry-after', String(s))
    throw new TooManyRequestsError(`${what}: try again in ${s} s`, s)
  }

  function admit (req: IncomingMessage, res: ServerResponse, door: Door): Pass {
    try {
      return admitOrThrow(req, res, door)
    } catch (err) {
      // A refused upload is still sending its body: close the connection rather than drain it.
      if (door === 'upload') res.setHeader('connection', 'close')
      throw err
    }
  }

  function admitOrThrow (req: IncomingMessage, res: ServerResponse, door: Door): Pass {
    const who = identify(req)
    const verb = door === 'campaign' ? 'create a campaign' : 'upload a dataset or checkpoint'
    if (who == null) throw new UnauthorizedError(`sign in with Ethereum (or use the operator's admin token) to ${verb}`)
    if (who.kind === 'admin') return { who, done () {} }
    if (allowed.size > 0 && !allowed.has(who.address.toLowerCase())) throw new ForbiddenError(`${who.address} is not on this tracker's list of researchers`)
    const key = principalKey(who)
    if (door === 'campaign' && (campaignsOf.get(key) ?? 0) >= L.maxCampaignsPerResearcher) {
      throw new ForbiddenError(`quota reached: a researcher may create at most ${L.maxCampaignsPerResearcher} campaigns on this tracker`)
    }
    let bytes = 0
    if (door === 'upload') {
      const declared = Number(req.headers['content-length'])
      bytes = Number.isSafeInteger(declared) && declared >= 0 ? declared : L.maxUploadBytes
      const day = Math.floor(now() / 86_400_000)
      const used = uploadsOf.get(key)
      const today = used?.day === day ? used.bytes : 0
      if (today + bytes > L.uploadBytesPerDay) throw new ForbiddenError(`quota reached: ${L.uploadBytesPerDay} upload bytes per researcher per day (${today} used)`)
    }
    const wait = limits[door].take(key)
    if (wait > 0) limited(res, wait, `too many requests to ${verb}`)
    const all = allResearchers.take(door)
    if (all > 0) limited(res, all, `this tracker is receiving too many requests to ${verb}`)
    if (door === 'upload') {
      // Counted on admission: the bytes are on their way, whatever the upload's outcome.
      const day = Math.floor(now() / 86_400_000)
      const used = uploadsOf.get(key)
      uploadsOf.set(key, { day, bytes: (used?.day === day ? used.bytes : 0) + bytes })
    }
    return { who, done () { if (door === 'campaign') campaignsOf.set(key, (campaignsOf.get(key) ?? 0) + 1) } }
  }

  function handle (req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (path === '/api/session') {
      if (req.method === 'DELETE') {
        const cookie = cookieOf(req, SESSION_COOKIE)
        if (cookie != null) sessions.end(cookie)
        setCookie(req, res, '', 0)
        sendJson(res, 200, { signedIn: false })
        return true
      }
      if (req.method !== 'GET') throw new MethodNotAllowedError('use GET or DELETE')
      let who: Principal | undefined
      try { who = identify(req) } catch { who = undefined }
      sendJson(res, 200, who == null ? { signedIn: false } : { signedIn: true, ...who })
      return true
    }
    if (path === '/api/admin/login') {
      if (req.method !== 'GET') throw new MethodNotAllowedError('use GET')
      const ip = req.socket.remoteAddress ?? '?'
      const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? ''
      if (!tokensEqual(token, init.adminToken)) {
        const wait = loginFailures.take(ip)
        if (wait > 0) limited(res, wait, 'too many failed sign-ins')
        throw new UnauthorizedError('wrong admin token')
      }
      setCookie(req, res, sessions.start({ kind: 'admin' }), Math.floor(sessions.ttlMs / 1000))
      res.writeHead(303, { location: '/#/new', 'cache-control': 'no-store' })
      res.end()
      return true
    }
    return false
  }

  return {
    identify,
    admit,
    signedIn (req, res, address) {
      setCookie(req, res, sessions.start({ kind: 'researcher', address }), Math.floor(sessions.ttlMs / 1000))
    },
    handle
  }
}
