// The origin a request was made to, and the relay addresses a tab at that origin should dial.
// A configured public URL wins; X-Forwarded-* is believed only from a configured proxy; otherwise
// the Host header (validated) names it, so a LAN or loopback tracker hands out what the tab used.
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'

export interface OriginInit {
  /** e.g. https://train.example.org */
  publicUrl?: string
  /** Proxies (IP literals) whose X-Forwarded-Proto/-Host are believed. @default [] */
  trustedProxies?: string[]
  /** Used when the request names no valid host. */
  fallback: string
}

// host[:port]: a DNS name, an IPv4 literal or a bracketed IPv6 literal.
const HOST_PORT = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]{2,45}\])(?::\d{1,5})?$/i

function firstHeader (value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value
  return v?.split(',')[0]?.trim()
}

function validHost (value: string | undefined): string | undefined {
  if (value == null || value.length > 260 || !HOST_PORT.test(value)) return undefined
  const port = /:(\d{1,5})$/.exec(value)?.[1]
  if (port != null && Number(port) > 65535) return undefined
  return value.toLowerCase()
}

/** The peer's address without the IPv4-mapped IPv6 prefix Node puts on dual-stack sockets. */
export function remoteAddress (req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? ''
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a
}

/**
 * The client's address: the socket's peer, or, when that is a trusted proxy, the address the
 * proxy appended last to X-Forwarded-For (earlier entries are whatever the client claimed).
 */
export function clientAddress (req: IncomingMessage, trustedProxies: string[] = []): string {
  const peer = remoteAddress(req)
  if (!trustedProxies.includes(peer)) return peer
  const forwarded = String(req.headers['x-forwarded-for'] ?? '').split(',').map(s => s.trim()).filter(s => isIP(s) !== 0)
  return forwarded.at(-1) ?? peer
}

export function requestOrigin (req: IncomingMessage, init: OriginInit): string {
  if (init.publicUrl != null) return init.publicUrl
  if ((init.trustedProxies ?? []).includes(remoteAddress(req))) {
    const proto = firstHeader(req.headers['x-forwarded-proto'])
    const host = validHost(firstHeader(req.headers['x-forwarded-host']))
    if ((proto === 'https' || proto === 'http') && host != null) return `${proto}://${host}`
  }
  const host = validHost(firstHeader(req.headers.host))
  return host != null ? `http://${host}` : init.fallback
}

/**
 * The relay's WebSocket multiaddr at `origin` (the tracker forwards WebSocket upgrades to the
 * relay, so the app's own origin serves signalling): https → /tls/ws, http → /ws.
 */
export function relayAddrFor (origin: string, peerId: string): string {
  const url = new URL(origin)
  const secure = url.protocol === 'https:'
  const port = url.port !== '' ? url.port : (secure ? '443' : '80')
  const host = url.hostname.replace(/^\[|\]$/g, '')
  const kind = isIP(host)
  const base = kind === 4 ? `/ip4/${host}` : kind === 6 ? `/ip6/${host}` : `/dns4/${host}`
  return `${base}/tcp/${port}/${secure ? 'tls/ws' : 'ws'}/p2p/${peerId}`
}
