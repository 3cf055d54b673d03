// One public port for everything: the HTTP server hands WebSocket upgrades to the relay, which
// listens on loopback only. Bytes are piped unchanged after the upgrade request is replayed.
import type { IncomingMessage, Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createLogger } from '../log.ts'
import { clientAddress } from './public-origin.ts'

const log = createLogger('tabgrad:tracker')

export interface RelayUpgradeInit {
  /** The relay's loopback WebSocket port. */
  relayPort: number
  /** At most this many piped connections at once; more are refused with 503. @default 2048 */
  maxConnections?: number
  /**
   * New connections per second from one client address; more get 429. The relay sees every tab
   * as 127.0.0.1, so its own per-host limit is lifted and this one counts real addresses.
   * @default 5 (libp2p's inboundConnectionThreshold)
   */
  perClientPerSecond?: number
  /** Proxies whose X-Forwarded-For names the client. @default [] */
  trustedProxies?: string[]
}

export interface RelayUpgrade {
  /** Piped connections open now. */
  readonly open: number
  close(): void
}

export function forwardUpgradesToRelay (server: Server, init: RelayUpgradeInit): RelayUpgrade {
  const sockets = new Set<Duplex | Socket>()
  const max = init.maxConnections ?? 2048
  const perSecond = init.perClientPerSecond ?? 5
  // Upgrades per client in the current one-second window; cleared each window, so bounded by the request rate.
  let window = 0
  const recent = new Map<string, number>()
  const refuse = (socket: Duplex, status: string): void => {
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`)
  }
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') { refuse(socket, '400 Bad Request'); return }
    if (sockets.size / 2 >= max) { refuse(socket, '503 Service Unavailable'); return }
    const second = Math.floor(Date.now() / 1000)
    if (second !== window) { window = second; recent.clear() }
    const client = clientAddress(req, init.trustedProxies)
    const count = (recent.get(client) ?? 0) + 1
    recent.set(client, count)
    if (count > perSecond) { refuse(socket, '429 Too Many Requests'); return }
    const upstream = connect(init.relayPort, '127.0.0.1')
    sockets.add(socket)
    sockets.add(upstream)
    const drop = (): void => {
      sockets.delete(socket)
      sockets.delete(upstream)
      socket.destroy()
      upstream.destroy()
    }
    socket.on('error', drop)
    socket.on('close', drop)
    upstream.on('error', err => { log('relay upgrade failed', err.message); drop() })
    upstream.on('close', drop)
    upstream.once('connect', () => {
      let headText = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`
      for (let i = 0; i < req.rawHeaders.length; i += 2) headText += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`
      upstream.write(headText + '\r\n')
      if (head.length > 0) upstream.write(head)
      socket.pipe(upstream).pipe(socket)
    })
  })
  return {
    get open () { return sockets.size / 2 },
    close () { for (const s of sockets) s.destroy(); sockets.clear() }
  }
}
