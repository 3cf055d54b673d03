// Which pairs of tabs can talk, as the tabs report it: direct WebRTC, through TURN, or not at
// all. The swarm's routing and stage assignment read `kind(a, b)` to avoid pairs that cannot
// connect. Reports are bounded per tab and in total, and forgotten after a while (tabs move).
import { BadRequestError, HttpError } from './errors.ts'
import { verifyReachabilitySignature, type SignedReachabilityReport } from '../net/ice-reachability.ts'

import type { LinkKind, LinkReport } from '../net/ice-reachability.ts'
export type { LinkKind, LinkReport }
export type PairKind = LinkKind | 'unknown'

export interface ReachabilityInit {
  /** Tabs whose reports are kept; the oldest reporter is dropped beyond this. @default 4096 */
  maxTabs?: number
  /** Links kept per reporting tab. @default 256 */
  maxLinksPerTab?: number
  /** A report is forgotten after this long. @default 600000 (10 min) */
  ttlMs?: number
}

export interface Reachability {
  /** Records what `from` saw; replaces its earlier report of the same peers. */
  report(from: string, links: LinkReport[], now?: number): void
  /** What is known about the pair, from either side; 'unreachable' wins over a stale success. */
  kind(a: string, b: string, now?: number): PairKind
  /** The links `peer` reported and those others reported about it. */
  linksOf(peer: string, now?: number): LinkReport[]
  /** Pairs reported unreachable, for routing to avoid. */
  unreachablePairs(now?: number): Array<[string, string]>
  readonly size: number
}

const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{32,64}$/
const KINDS: ReadonlySet<string> = new Set(['direct', 'turn', 'unreachable'])

/** Reports older or newer than this (clock skew included) are refused, so a captured one cannot be replayed later. */
export const REPORT_MAX_AGE_MS = 5 * 60_000

/**
 * Validates a `POST /api/reachability` body, `{peerId, at, links: [{peer, kind}], signature}`,
 * and checks that the tab's own key signed it: a tab speaks only for its own links.
 */
export async function readReachabilityReport (body: unknown, now = Date.now()): Promise<SignedReachabilityReport> {
  const r = parseReachabilityReport(body)
  if (Math.abs(now - r.at) > REPORT_MAX_AGE_MS) throw new BadRequestError('report time is more than 5 minutes off')
  if (!await verifyReachabilitySignature(r)) throw new HttpError(401, 'report signature does not match peerId')
  return r
}

export function parseReachabilityReport (body: unknown, maxLinks = 256): SignedReachabilityReport {
  if (typeof body !== 'object' || body == null || Array.isArray(body)) throw new BadRequestError('body must be a JSON object')
  const { peerId, links, at, signature } = body as Record<string, unknown>
  if (typeof peerId !== 'string' || !PEER_ID.test(peerId)) throw new BadRequestError('peerId must be a base58 libp2p PeerId')
  if (typeof at !== 'number' || !Number.isSafeInteger(at)) throw new BadRequestError('at must be an integer time in ms')
  if (typeof signature !== 'string' || signature.length > 200) throw new BadRequestError('signature must be a base64 string')
  if (!Array.isArray(links) || links.length > maxLinks) throw new BadRequestError(`links must be an array of at most ${maxLinks}`)
  const out = links.map((l: unknown, i): LinkReport => {
    const { peer, kind } = (typeof l === 'object' && l != null ? l : {}) as Record<string, unknown>
    if (typeof peer !== 'string' || !PEER_ID.test(peer) || peer === peerId) throw new BadRequestError(`links[${i}].peer must be another tab's PeerId`)
    if (typeof kind !== 'string' || !KINDS.has(kind)) throw new BadRequestError(`links[${i}].kind must be direct, turn or unreachable`)
    return { peer, kind: kind as LinkKind }
  })
  return { peerId, at, links: out, signature }
}

export function createReachability (init: ReachabilityInit = {}): Reachability {
  const maxTabs = init.maxTabs ?? 4096
  const maxLinks = init.maxLinksPerTab ?? 256
  const ttl = init.ttlMs ?? 600_000
  // reporter → (peer → kind, when). Map order is insertion order: re-inserting keeps recency.
  const tables = new Map<string, Map<string, { kind: LinkKind, at: number }>>()

  const fresh = (at: number, now: number): boolean => now - at < ttl
  const seen = (a: string, b: string, now: number): { kind: LinkKind, at: number } | undefined => {
    const e = tables.get(a)?.get(b)
    return e != null && fresh(e.at, now) ? e : undefined
  }

  return {
    report (from, links, now = Date.now()) {
      let t = tables.get(from)
      if (t != null) tables.delete(from)
      t ??= new Map()
      tables.set(from, t)
      for (const l of links) {
        t.delete(l.peer)
        t.set(l.peer, { kind: l.kind, at: now })
      }
      while (t.size > maxLinks) t.delete(t.keys().next().value!)
      for (const [peer, e] of t) if (!fresh(e.at, now)) t.delete(peer)
      while (tables.size > maxTabs) tables.delete(tables.keys().next().value!)
    },
    kind (a, b, now = Date.now()) {
      const x = seen(a, b, now)
      const y = seen(b, a, now)
      if (x == null && y == null) return 'unknown'
      // The newer report wins; on a tie a failure counts (routing must not bet on it).
      if (x != null && y != null && x.at !== y.at) return x.at > y.at ? x.kind : y.kind
      if (x?.kind === 'unreachable' || y?.kind === 'unreachable') return 'unreachable'
      if (x?.kind === 'turn' || y?.kind === 'turn') return 'turn'
      return 'direct'
    },
    linksOf (peer, now = Date.now()) {
      const out = new Map<string, LinkKind>()
      for (const [p, e] of tables.get(peer) ?? []) if (fresh(e.at, now)) out.set(p, e.kind)
      for (const [from, t] of tables) {
        const e = t.get(peer)
        if (e != null && fresh(e.at, now) && !out.has(from)) out.set(from, e.kind)
      }
      return [...out].map(([p, kind]) => ({ peer: p, kind }))
    },
    unreachablePairs (now = Date.now()) {
      const pairs: Array<[string, string]> = []
      for (const [from, t] of tables) {
        for (const [peer, e] of t) if (e.kind === 'unreachable' && fresh(e.at, now)) pairs.push([from, peer])
      }
      return pairs
    },
    get size () { return tables.size }
  }
}
