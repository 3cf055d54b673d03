// This tab's place in the tracker's libp2p network: its PeerId, the peers it sees, and the
// link check (a digest-verified bulk transfer over a direct WebRTC connection).
import type { PeerId, PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { createTabNode, directConnection, isDirect, type TabLibp2p } from '../../net/tab-node.ts'
import { receiveBlob, sendBlob, type BlobResult } from '../../net/blob-check.ts'
import { BLOB_PROTOCOL, PEER_DISCOVERY_TOPIC, PEER_EXPIRY_MS } from '../../net/constants.ts'
import { createIceSource } from '../../net/ice.ts'
import { LinkLog, startReachabilityReports, type LinkKind } from '../../net/ice-reachability.ts'
import { tabSlot } from './tab-slot.ts'

export type NetStatus = 'idle' | 'connecting' | 'online' | 'error'

export interface PeerInfo {
  id: string
  direct: boolean
  /** What this tab's dials found: direct, via TURN, or unreachable. */
  link?: LinkKind
}

class NetworkState {
  status = $state<NetStatus>('idle')
  error = $state<string | null>(null)
  peerId = $state<string | null>(null)
  relayPeerId = $state<string | null>(null)
  /** False when the tracker names no STUN/TURN server: only peers on this tab's network can connect. */
  natTraversal = $state(true)
  /** Per peer: direct, via TURN, or unreachable (reported to the tracker for routing). */
  readonly links = new LinkLog()
  peers = $state.raw<PeerInfo[]>([])
  /** Link checks this tab sent or received, newest first. */
  checks = $state.raw<Array<BlobResult & { direction: 'sent' | 'received' }>>([])
  node: TabLibp2p | undefined
  privateKey: PrivateKey | undefined
  /** This tab's slot in the profile's key pool (tab-slot.ts). */
  slot = $state<number | null>(null)
  #relayAddrs: string[] = []

  get relayAddrs (): string[] { return this.#relayAddrs }
  /** PeerId → last time its announcement arrived over the discovery topic. */
  #discovered = new Map<string, number>()
  #started: Promise<void> | undefined

  start (): Promise<void> {
    this.#started ??= this.#connect()
    return this.#started
  }

  async #connect (): Promise<void> {
    this.status = 'connecting'
    try {
      const health = await (await fetch('/api/health')).json() as { peerId: string, multiaddrs: string[] }
      this.relayPeerId = health.peerId
      this.#relayAddrs = health.multiaddrs.map(a => a.includes('/p2p/') ? a : `${a}/p2p/${health.peerId}`)
      // This tab's own key from the profile's pool (other tabs of this browser hold others).
      const { index, privateKey } = await tabSlot()
      this.slot = index
      this.privateKey = privateKey
      const ice = await createIceSource()
      this.natTraversal = ice.current.natTraversal
      const node = await createTabNode({ relayAddrs: this.#relayAddrs, privateKey, rtcConfiguration: async () => await ice.rtcConfiguration(), links: this.links })
      this.node = node
      startReachabilityReports({ log: this.links, peerId: node.peerId.toString(), privateKey })
      this.peerId = node.peerId.toString()
      await node.handle(BLOB_PROTOCOL, (stream, connection) => {
        receiveBlob(stream, connection.remotePeer.toString())
          .then(r => { this.checks = [{ ...r, direction: 'received' }, ...this.checks] })
          .catch((err: Error & { result?: BlobResult }) => {
            if (err.result != null) this.checks = [{ ...err.result, direction: 'received' }, ...this.checks]
          })
      })
      const refresh = (): void => { this.#refreshPeers() }
      node.addEventListener('peer:discovery', evt => {
        this.#discovered.set(evt.detail.id.toString(), Date.now())
        refresh()
      })
      // libp2p fires peer:discovery only for a peer new to its peer store, so a peer seen once
      // would expire here after PEER_EXPIRY_MS; every signed announcement keeps it fresh.
      node.services.pubsub.addEventListener('message', evt => {
        const m = evt.detail
        if (m.topic === PEER_DISCOVERY_TOPIC && m.type === 'signed' && !m.from.equals(node.peerId)) this.#discovered.set(m.from.toString(), Date.now())
      })
      node.addEventListener('connection:open', refresh)
      node.addEventListener('connection:close', refresh)
      setInterval(refresh, 2000)
      this.status = 'online'
      refresh()
    } catch (err) {
      this.status = 'error'
      this.error = `Could not join the tracker's network: ${(err as Error).message}`
      this.#started = undefined
    }
  }

  #refreshPeers (): void {
    const node = this.node
    if (node == null) return
    const ids = new Map<string, PeerInfo>()
    // Peers announced on the discovery topic recently (through the relay), and peers we hold connections to.
    const now = Date.now()
    for (const [id, seen] of this.#discovered) {
      if (now - seen > PEER_EXPIRY_MS) this.#discovered.delete(id)
      else ids.set(id, { id, direct: false })
    }
    for (const c of node.getConnections()) {
      const id = c.remotePeer.toString()
      if (id === this.relayPeerId) continue
      const direct = isDirect(c) && c.status === 'open'
      ids.set(id, { id, direct: direct || (ids.get(id)?.direct ?? false) })
    }
    ids.delete(this.relayPeerId ?? '')
    ids.delete(this.peerId ?? '')
    for (const p of ids.values()) p.link = this.links.kind(p.id)
    this.peers = [...ids.values()].sort((a, b) => a.id.localeCompare(b.id))
  }

  /** Dials the relay again if the connection to it dropped (after going offline and back). */
  async reconnect (): Promise<void> {
    const node = this.node
    if (node == null || this.relayPeerId == null) return
    if (node.getConnections().some(c => c.remotePeer.toString() === this.relayPeerId && c.status === 'open')) return
    await Promise.any(this.#relayAddrs.map(async a => await node.dial(multiaddr(a), { signal: AbortSignal.timeout(10_000) }))).catch(() => {})
  }

  /** Opens a direct WebRTC connection to `peer` and sends `bytes` random bytes; the peer answers with its digest. */
  async checkLink (peer: PeerId, bytes = 4 * 1024 * 1024): Promise<BlobResult> {
    const node = this.node
    if (node == null) throw new Error('not connected')
    const payload = new Uint8Array(bytes)
    for (let off = 0; off < bytes; off += 65536) crypto.getRandomValues(payload.subarray(off, Math.min(bytes, off + 65536)))
    const attempt = async (): Promise<BlobResult> => {
      const conn = await directConnection(node, this.#relayAddrs, peer)
      this.#refreshPeers()
      return await sendBlob(conn, payload)
    }
    let result: BlobResult
    try {
      result = await attempt()
    } catch (err) {
      // A stalled or reset data channel: drop that connection and try once on a fresh one, as a
      // user clicking again would.
      if ((err as Error).name === 'NoDirectConnectionError') throw err
      await Promise.all(node.getConnections(peer).filter(isDirect).map(async c => { await c.close().catch(() => {}) }))
      result = await attempt()
    }
    this.checks = [{ ...result, direction: 'sent' }, ...this.checks]
    return result
  }
}

export const network = new NetworkState()
