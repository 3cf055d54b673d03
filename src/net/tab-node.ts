// A tab's libp2p node. RTCPeerConnection exists only on the main thread, so this runs there
// (the GPU work is in a worker). Tabs reach the tracker's relay over WebSockets, listen for
// WebRTC through it, and then talk to each other over direct data channels. A headless volunteer
// (src/headless/node-libp2p.ts) adds TCP, so two Node volunteers that can reach each other skip
// WebRTC; this file never imports it, so the browser bundle stays free of node:net.
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { webRTC } from '@libp2p/webrtc'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify, type Identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import { pubsubPeerDiscovery } from '@libp2p/pubsub-peer-discovery'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import type { Connection, PeerId, PrivateKey } from '@libp2p/interface'
import { DIAL_ATTEMPTS, DIAL_TIMEOUT_MS, GLARE_WAIT_MS, PEER_DISCOVERY_TOPIC, TCP_CONNECT_TIMEOUT_MS } from './constants.ts'
import { NoDirectConnectionError } from './errors.ts'
import { linkKind, type LinkLog } from './ice-reachability.ts'
import { createLogger } from '../log.ts'

const log = createLogger('tabgrad:net')

export interface TabNodeInit {
  /** The relay's multiaddrs, from GET /api/health. */
  relayAddrs: string[]
  /** Keep a stable PeerId across reloads by passing a stored key. @default a new key */
  privateKey?: PrivateKey
  /** How often a tab re-announces itself on the discovery topic. @default 2000 */
  announceIntervalMs?: number
  /**
   * ICE servers for WebRTC, or a function giving the current set per connection (an IceSource
   * from ice.ts refreshes TURN credentials). @default { iceServers: [] }: host candidates only,
   * so only tabs on one network connect (no public STUN is built in).
   */
  rtcConfiguration?: RTCConfiguration | (() => Promise<RTCConfiguration>)
  /** Records, per peer, whether its WebRTC connection is direct or via TURN, and failed dials. @default none */
  links?: LinkLog
  /**
   * Transports a browser lacks and the addresses they listen on: the headless volunteer's TCP
   * (`tcpListening` in src/headless/node-libp2p.ts). @default none (a tab: WebRTC only)
   */
  dialable?: { transports: NonNullable<Libp2pOptions['transports']>, listen: string[] }
}

export type TabLibp2p = Libp2p<{ identify: Identify, pubsub: ReturnType<ReturnType<typeof gossipsub>> }>

export async function createTabNode (init: TabNodeInit): Promise<TabLibp2p> {
  const node = await createLibp2p({
    ...(init.privateKey != null ? { privateKey: init.privateKey } : {}),
    addresses: { listen: ['/p2p-circuit', '/webrtc', ...(init.dialable?.listen ?? [])] },
    transports: [
      webSockets(),
      ...(init.dialable?.transports ?? []),
      // The tracker names the STUN/TURN servers; with none, host candidates reach one network only.
      webRTC({ rtcConfiguration: init.rtcConfiguration ?? { iceServers: [] } }),
      circuitRelayTransport()
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The default gater refuses private addresses; the tracker and peers are often on 127.0.0.1 or a LAN.
    connectionGater: { denyDialMultiaddr: () => false },
    peerDiscovery: [pubsubPeerDiscovery({ topics: [PEER_DISCOVERY_TOPIC], interval: init.announceIntervalMs ?? 2000, listenOnly: false })],
    services: {
      identify: identify(),
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false })
    }
  })
  if ((init.dialable?.transports.length ?? 0) > 0) tcpNodes.add(node as unknown as TabLibp2p)
  if (init.links != null) {
    const links = init.links
    linkLogs.set(node as unknown as TabLibp2p, links)
    node.addEventListener('connection:open', evt => {
      const conn = evt.detail
      if (!isDirect(conn)) return
      // Give ICE a moment to settle on the selected pair before reading it.
      setTimeout(() => {
        linkKind(conn).then(kind => { if (kind != null) links.record(conn.remotePeer.toString(), kind) }, () => {})
      }, 1000)
    })
  }
  await node.start()
  const relays = init.relayAddrs.map(a => multiaddr(a))
  await Promise.any(relays.map(async a => await node.dial(a, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })))
  return node as unknown as TabLibp2p
}

/** How a connection carries data: straight to the peer over WebRTC or TCP, or through a relay. */
export type LinkTransport = 'webrtc' | 'tcp' | 'relayed'

/**
 * 'webrtc' or 'tcp' for a connection that carries data directly to the peer, else 'relayed'
 * (a circuit through the tracker's relay, or the WebSockets connection to the relay itself).
 */
export function linkTransport (conn: Connection): LinkTransport {
  if (conn.limits != null) return 'relayed'
  const names = conn.remoteAddr.getComponents().map(c => c.name)
  if (names.includes('webrtc')) return 'webrtc'
  if (names.includes('tcp') && !names.some(n => n === 'ws' || n === 'wss' || n === 'p2p-circuit')) return 'tcp'
  return 'relayed'
}

/** True for a connection that carries data directly (WebRTC, or TCP between Node volunteers), not through the relay. */
export function isDirect (conn: Connection): boolean {
  return linkTransport(conn) !== 'relayed'
}

/** A plain TCP address (no WebSockets, no circuit): what a headless volunteer listens on. */
export function isTcpAddr (addr: Multiaddr): boolean {
  const names = addr.getComponents().map(c => c.name)
  return names.includes('tcp') && !names.some(n => n === 'ws' || n === 'wss' || n === 'p2p-circuit' || n === 'webrtc' || n === 'tls')
}

/** The relay-circuit WebRTC address at which `peer` can be dialled through `relay`. */
export function webrtcAddrVia (relay: Multiaddr, peer: PeerId): Multiaddr {
  return relay.encapsulate(`/p2p-circuit/webrtc/p2p/${peer.toString()}`)
}

const openDirect = (node: TabLibp2p, peer: PeerId): Connection | undefined =>
  node.getConnections(peer).find(c => c.status === 'open' && isDirect(c))

/** Where each node records connection kinds and failed dials (createTabNode's `links`). */
const linkLogs = new WeakMap<TabLibp2p, LinkLog>()

/** Nodes that can dial TCP (created with a `dialable` TCP transport). */
const tcpNodes = new WeakSet<TabLibp2p>()

/** Dials in progress, so concurrent callers share one dial instead of racing several. */
const dialing = new WeakMap<TabLibp2p, Map<string, Promise<Connection>>>()

/**
 * An open direct connection to `peer`. A node with TCP first dials the TCP addresses the peer
 * advertised (learned by discovery or identify, in the peer store): a Node volunteer that can be
 * reached. Otherwise, or when those dials fail, it dials WebRTC through the relay.
 * When two tabs would dial each other at once (both syncing), the simultaneous offers collide
 * ("glare") and both can stall; so the tab with the higher PeerId first waits briefly for the
 * other's dial, and concurrent callers share one dial.
 */
export async function directConnection (node: TabLibp2p, relayAddrs: string[], peer: PeerId, signal?: AbortSignal): Promise<Connection> {
  const existing = openDirect(node, peer)
  if (existing != null) return existing
  let byPeer = dialing.get(node)
  if (byPeer == null) { byPeer = new Map(); dialing.set(node, byPeer) }
  const key = peer.toString()
  let pending = byPeer.get(key)
  if (pending == null) {
    pending = dialDirect(node, relayAddrs, peer, signal).finally(() => byPeer.delete(key))
    byPeer.set(key, pending)
  }
  return await pending
}

/** `peer`'s plain TCP addresses in the peer store, each ending in its PeerId. */
async function knownTcpAddrs (node: TabLibp2p, peer: PeerId): Promise<Multiaddr[]> {
  const known = await node.peerStore.get(peer).catch(() => null)
  return (known?.addresses ?? []).map(a => a.multiaddr).filter(isTcpAddr)
    .map(a => a.getComponents().some(c => c.name === 'p2p') ? a : a.encapsulate(`/p2p/${peer.toString()}`))
}

/**
 * Asks `peer` for its listen addresses: identify over a relayed connection through the tracker's
 * relay. Discovery announces them every 2 s, but not while a volunteer's event loop is blocked by
 * Dawn's pipeline compilation, which is exactly when two volunteers that just joined first dial
 * each other. A tab answers too (with no TCP address); the WebRTC dial after it reuses the circuit.
 */
async function askAddrs (node: TabLibp2p, relayAddrs: string[], peer: PeerId): Promise<void> {
  // An open connection to the peer was identified when it opened: nothing more to learn.
  if (node.getConnections(peer).some(c => c.status === 'open')) return
  // libp2p identifies every new connection by itself (a second identify stream would be refused).
  let onIdentify: (evt: CustomEvent<{ peerId: PeerId }>) => void = () => {}
  const identified = new Promise<void>(resolve => {
    onIdentify = evt => { if (evt.detail.peerId.equals(peer)) resolve() }
    node.addEventListener('peer:identify', onIdentify)
  })
  try {
    for (const relay of relayAddrs) {
      const signal = AbortSignal.timeout(DIAL_TIMEOUT_MS)
      try {
        await node.dial(multiaddr(relay).encapsulate(`/p2p-circuit/p2p/${peer.toString()}`), { signal })
        await Promise.race([identified, new Promise((resolve, reject) => { signal.addEventListener('abort', () => { reject(signal.reason) }) })])
        return
      } catch (err) {
        log(`identify of ${peer.toString()} through ${relay} failed: ${(err as Error).message}`)
      }
    }
  } finally {
    node.removeEventListener('peer:identify', onIdentify)
  }
}

/** A TCP connection to `peer` at the TCP addresses it advertised, or undefined (none known, or none answered). */
async function dialTcp (node: TabLibp2p, relayAddrs: string[], peer: PeerId): Promise<Connection | undefined> {
  if (!tcpNodes.has(node)) return undefined
  let addrs = await knownTcpAddrs(node, peer)
  if (addrs.length === 0) {
    await askAddrs(node, relayAddrs, peer)
    addrs = await knownTcpAddrs(node, peer)
  }
  if (addrs.length === 0) return undefined // a tab, or a volunteer with --listen none
  // A firewalled or NATed address never answers: give up on it soon. Once the socket is open, the
  // handshake gets the WebRTC dial's time: the peer's event loop may be busy (a volunteer blocks
  // it for seconds while Dawn compiles its pipelines).
  const controller = new AbortController()
  let timer = setTimeout(() => { controller.abort() }, TCP_CONNECT_TIMEOUT_MS)
  const started = Date.now()
  let opened = false
  const onProgress = (evt: { type: string }): void => {
    if (evt.type !== 'upgrader:encrypt-outbound-connection') return // the socket is open: the handshake starts
    opened = true
    clearTimeout(timer)
    timer = setTimeout(() => { controller.abort() }, DIAL_TIMEOUT_MS)
  }
  try {
    const conn = await node.dial(addrs, { signal: controller.signal, onProgress } as Parameters<TabLibp2p['dial']>[1])
    return linkTransport(conn) === 'tcp' ? conn : undefined
  } catch (err) {
    log(`TCP dial to ${peer.toString()} failed after ${Date.now() - started} ms (socket ${opened ? 'opened' : 'never opened'}): ${(err as Error).message}`)
    return undefined // unreachable from here: WebRTC through the relay may still get through
  } finally {
    clearTimeout(timer)
  }
}

async function dialDirect (node: TabLibp2p, relayAddrs: string[], peer: PeerId, signal?: AbortSignal): Promise<Connection> {
  const tcp = await dialTcp(node, relayAddrs, peer)
  if (tcp != null) return tcp
  if (node.peerId.toString() > peer.toString()) {
    for (let waited = 0; waited < GLARE_WAIT_MS; waited += 100) {
      await new Promise(resolve => setTimeout(resolve, 100))
      const inbound = openDirect(node, peer)
      if (inbound != null) return inbound
    }
  }
  let lastError: unknown
  for (let attempt = 0; attempt < DIAL_ATTEMPTS; attempt++) {
    for (const relay of relayAddrs) {
      try {
        const conn = await node.dial(webrtcAddrVia(multiaddr(relay), peer), { signal: signal ?? AbortSignal.timeout(DIAL_TIMEOUT_MS) })
        if (isDirect(conn)) return conn
      } catch (err) {
        lastError = err
        const inbound = openDirect(node, peer)
        if (inbound != null) return inbound
      }
    }
  }
  linkLogs.get(node)?.record(peer.toString(), 'unreachable')
  throw new NoDirectConnectionError(`no direct WebRTC connection to ${peer.toString()}: ${(lastError as Error | undefined)?.message ?? 'dial gave a relayed connection'}`)
}
