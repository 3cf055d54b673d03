// What this tab learned about reaching its peers: each WebRTC connection is direct or goes
// through TURN, and a dial that found no path marks the peer unreachable. Tabs report this to
// the tracker (`POST /api/reachability`, signed with the tab's libp2p key) so routing and stage
// assignment can avoid pairs that cannot talk.
import { peerIdFromString } from '@libp2p/peer-id'
import { fromString as bytesFromString } from 'uint8arrays/from-string'
import { toString as bytesToString } from 'uint8arrays/to-string'
import type { Connection, PrivateKey } from '@libp2p/interface'

export type LinkKind = 'direct' | 'turn' | 'unreachable'
export interface LinkReport { peer: string, kind: LinkKind }

/** The signed body of `POST /api/reachability`. `at` is ms since the epoch. */
export interface SignedReachabilityReport { peerId: string, at: number, links: LinkReport[], signature: string }

/** The bytes a report's signature covers: domain-separated, so no other signed message can pass as one. */
export function reachabilityBytes (peerId: string, at: number, links: LinkReport[]): Uint8Array {
  return new TextEncoder().encode(`tabgrad-reachability/1\n${peerId}\n${at}\n${links.map(l => `${l.peer}=${l.kind}`).join(',')}`)
}

export async function signReachabilityReport (key: PrivateKey, peerId: string, links: LinkReport[], at = Date.now()): Promise<SignedReachabilityReport> {
  const signature = bytesToString(await key.sign(reachabilityBytes(peerId, at, links)), 'base64pad')
  return { peerId, at, links, signature }
}

/** True when `signature` is `peerId`'s key signing the report (Ed25519 PeerIds embed their key). */
export async function verifyReachabilitySignature (r: SignedReachabilityReport): Promise<boolean> {
  try {
    const key = peerIdFromString(r.peerId).publicKey
    if (key == null) return false
    return await key.verify(reachabilityBytes(r.peerId, r.at, r.links), bytesFromString(r.signature, 'base64pad'))
  } catch {
    return false
  }
}

/**
 * The RTCPeerConnection under a libp2p WebRTC connection. libp2p keeps it on the connection's
 * `maConn`, outside its typed API, so this checks the shape at runtime and gives up otherwise.
 */
function peerConnectionOf (conn: Connection): RTCPeerConnection | undefined {
  const pc = (conn as unknown as { maConn?: { peerConnection?: unknown } }).maConn?.peerConnection
  return pc != null && typeof (pc as RTCPeerConnection).getStats === 'function' ? pc as RTCPeerConnection : undefined
}

/** 'turn' when the selected ICE pair has a relayed candidate on either side, else 'direct'. */
export async function linkKind (conn: Connection): Promise<'direct' | 'turn' | undefined> {
  const pc = peerConnectionOf(conn)
  if (pc == null) return undefined
  const stats = await pc.getStats()
  let pairId: string | undefined
  stats.forEach((s: { type: string, selectedCandidatePairId?: string }) => { if (s.type === 'transport' && s.selectedCandidatePairId != null) pairId = s.selectedCandidatePairId })
  const pair = pairId != null ? stats.get(pairId) as { localCandidateId: string, remoteCandidateId: string } | undefined : undefined
  if (pair == null) return undefined
  const types = [stats.get(pair.localCandidateId)?.candidateType, stats.get(pair.remoteCandidateId)?.candidateType]
  return types.includes('relay') ? 'turn' : 'direct'
}

/** The latest kind per peer, and which entries changed since the last report. */
export class LinkLog {
  readonly #kinds = new Map<string, LinkKind>()
  readonly #changed = new Set<string>()
  /** At most this many peers are remembered (the oldest go first). */
  constructor (readonly maxPeers = 256) {}

  record (peer: string, kind: LinkKind): void {
    if (this.#kinds.get(peer) === kind) return
    this.#kinds.delete(peer)
    this.#kinds.set(peer, kind)
    this.#changed.add(peer)
    while (this.#kinds.size > this.maxPeers) {
      const oldest = this.#kinds.keys().next().value!
      this.#kinds.delete(oldest)
      this.#changed.delete(oldest)
    }
  }

  kind (peer: string): LinkKind | undefined { return this.#kinds.get(peer) }

  /** Marks entries to be sent again (their report did not arrive). */
  markChanged (links: LinkReport[]): void {
    for (const l of links) if (this.#kinds.has(l.peer)) this.#changed.add(l.peer)
  }

  /** Changed entries since the last call, and clears them. */
  takeChanges (): LinkReport[] {
    const out = [...this.#changed].map(peer => ({ peer, kind: this.#kinds.get(peer)! }))
    this.#changed.clear()
    return out
  }
}

export interface ReachabilityReporterInit {
  log: LinkLog
  peerId: string
  privateKey: PrivateKey
  /** @default '/api/reachability' */
  url?: string
  /** @default 5000 */
  intervalMs?: number
  /** @default globalThis.fetch */
  fetch?: typeof fetch
}

/** Sends changed links to the tracker every `intervalMs`; a failed send is retried next time. */
export function startReachabilityReports (init: ReachabilityReporterInit): { flush(): Promise<void>, stop(): void } {
  const fetchImpl = init.fetch ?? globalThis.fetch.bind(globalThis)
  const flush = async (): Promise<void> => {
    const links = init.log.takeChanges()
    if (links.length === 0) return
    const body = await signReachabilityReport(init.privateKey, init.peerId, links)
    const ok = await fetchImpl(init.url ?? '/api/reachability', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000)
    }).then(r => r.ok, () => false)
    if (!ok) init.log.markChanged(links)
  }
  const timer = setInterval(() => { void flush() }, init.intervalMs ?? 5000)
  return { flush, stop: () => { clearInterval(timer) } }
}
