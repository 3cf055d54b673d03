// The tab's ICE servers, from the tracker's `GET /api/ice`: STUN for server-reflexive candidates,
// TURN (with short-lived credentials) for pairs that cannot connect directly. Credentials are
// fetched again before they expire; each new WebRTC connection gets the current set.

/** What the tracker returned, checked. `expiresAt` is ms since the epoch, or null. */
export interface IceConfig {
  iceServers: RTCIceServer[]
  expiresAt: number | null
  /** False when the tracker has no STUN or TURN: only peers on the same network can connect. */
  natTraversal: boolean
}

export interface IceSourceInit {
  /** @default '/api/ice' */
  url?: string
  /** @default globalThis.fetch */
  fetch?: typeof fetch
  /** Fetch new credentials this long before they expire. @default 600000 (10 min) */
  refreshMarginMs?: number
  /** @default Date.now */
  now?: () => number
}

export interface IceSource {
  /** The configuration for the next RTCPeerConnection (refreshed first if close to expiry). */
  rtcConfiguration(): Promise<RTCConfiguration>
  /** The configuration held now. */
  readonly current: IceConfig
  stop(): void
}

export class IceConfigError extends Error {
  override name = 'IceConfigError'
}

const MAX_SERVERS = 16
const MAX_URLS = 16
const ICE_URL = /^(?:stuns?|turns?):[^\s]{1,250}$/i

/** Validates a `GET /api/ice` body: bounded counts and lengths, ICE URL schemes only. */
export function parseIceConfig (json: unknown): IceConfig {
  if (typeof json !== 'object' || json == null) throw new IceConfigError('ICE config is not an object')
  const { iceServers, expiresAt } = json as Record<string, unknown>
  if (!Array.isArray(iceServers) || iceServers.length > MAX_SERVERS) throw new IceConfigError(`iceServers must be an array of at most ${MAX_SERVERS}`)
  if (expiresAt !== null && (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt))) throw new IceConfigError('expiresAt must be a number or null')
  const servers = iceServers.map((s: unknown, i): RTCIceServer => {
    if (typeof s !== 'object' || s == null) throw new IceConfigError(`iceServers[${i}] is not an object`)
    const { urls, username, credential } = s as Record<string, unknown>
    const list = typeof urls === 'string' ? [urls] : urls
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_URLS || !list.every(u => typeof u === 'string' && ICE_URL.test(u))) {
      throw new IceConfigError(`iceServers[${i}].urls must be 1-${MAX_URLS} stun:, stuns:, turn: or turns: URLs`)
    }
    const out: RTCIceServer = { urls: list as string[] }
    if (username !== undefined || credential !== undefined) {
      if (typeof username !== 'string' || typeof credential !== 'string' || username.length > 512 || credential.length > 512) {
        throw new IceConfigError(`iceServers[${i}] needs a string username and credential (at most 512 characters)`)
      }
      out.username = username
      out.credential = credential
    }
    return out
  })
  return { iceServers: servers, expiresAt: expiresAt as number | null, natTraversal: servers.length > 0 }
}

export async function loadIceConfig (url: string, fetchImpl: typeof fetch, signal?: AbortSignal): Promise<IceConfig> {
  const res = await fetchImpl(url, { signal: signal ?? AbortSignal.timeout(10_000) })
  if (!res.ok) throw new IceConfigError(`${url} answered ${res.status}`)
  return parseIceConfig(await res.json())
}

/**
 * Loads the tracker's ICE servers and keeps TURN credentials fresh. A tracker without the route
 * (or unreachable) gives an empty set, which still connects tabs on one network.
 */
export async function createIceSource (init: IceSourceInit = {}): Promise<IceSource> {
  const url = init.url ?? '/api/ice'
  const fetchImpl = init.fetch ?? globalThis.fetch.bind(globalThis)
  const margin = init.refreshMarginMs ?? 10 * 60_000
  const now = init.now ?? Date.now
  let current: IceConfig = await loadIceConfig(url, fetchImpl).catch(() => ({ iceServers: [], expiresAt: null, natTraversal: false }))
  let refreshing: Promise<void> | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false

  const stale = (): boolean => current.expiresAt != null && now() >= current.expiresAt - margin
  const refresh = async (): Promise<void> => {
    refreshing ??= loadIceConfig(url, fetchImpl)
      .then(next => { current = next })
      .catch(() => { /* keep the old set; the next connection tries again */ })
      .finally(() => { refreshing = undefined; schedule() })
    await refreshing
  }
  const schedule = (): void => {
    if (timer != null) clearTimeout(timer)
    if (stopped || current.expiresAt == null) return
    // Refresh ahead of expiry; retry in a minute when the last attempt left the set stale.
    const wait = Math.max(60_000, current.expiresAt - margin - now())
    timer = setTimeout(() => { void refresh() }, Math.min(wait, 2 ** 31 - 1))
  }
  schedule()

  return {
    async rtcConfiguration () {
      if (stale()) await refresh()
      return { iceServers: current.iceServers }
    },
    get current () { return current },
    stop () {
      stopped = true
      if (timer != null) clearTimeout(timer)
    }
  }
}
