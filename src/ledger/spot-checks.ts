// Spot checks (DESIGN.md "Verification"): right after a replica sync, some microbatches are run by
// every replica of a stage. Each reports the same sampled output elements plus a digest of the
// weights it used. Reports are compared only among replicas whose weight digests match (they
// synced with each other, so their outputs may differ by float rounding only); a replica that
// disagrees with an agreeing majority is flagged. One against one is undecided: nobody is flagged.
//
// Votes are counted per identity, not per PeerId (PeerIds cost nothing to make): a tab bound to an
// Ethereum address votes as that address, once however many of its tabs report; an unbound tab
// votes as its PeerId. Once any reporter of a comparison is bound, only bound identities vote
// there, so unbound tabs cannot outvote a signed-in one; with no one signed in, distinct PeerIds
// vote as before (an all-anonymous campaign still catches a lone cheater). Everyone who reported
// still gets a verdict, judged by the votes of the identities other than its own.

export interface SpotReport {
  peerId: string
  microbatch: number
  stage: number
  /** Optimizer step of the weights used. */
  step: number
  /** sha256 of the replica's parameters after the sync. */
  weightsDigest: string
  /** Output elements at the indices `spotCheckIndices` names. */
  sample: number[]
  /** The Ethereum address the reporter's PeerId is bound to, if it signed in. */
  address?: string
}

export type Verdict = { peerId: string, verdict: 'verified' | 'flagged' }

export interface SpotChecksInit {
  /** Elementwise tolerance: |a − b| ≤ atol + rtol·max(|a|, |b|). @default 1e-3 */
  rtol?: number
  /** @default 1e-4 */
  atol?: number
}

/** Indices to sample: deterministic in (campaign, microbatch, stage), spread over the output. */
export function spotCheckIndices (campaign: string, microbatch: number, stage: number, numel: number, count = 32): number[] {
  let h = 2166136261
  for (const ch of `${campaign}:${microbatch}:${stage}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619)
  const out: number[] = []
  for (let i = 0; i < Math.min(count, numel); i++) {
    h = Math.imul(h ^ (h >>> 15), 2246822507) ^ i
    h = Math.imul(h ^ (h >>> 13), 3266489909)
    out.push(((h ^ (h >>> 16)) >>> 0) % numel)
  }
  return out
}

export class SpotChecks {
  readonly #rtol: number
  readonly #atol: number
  readonly #reports = new Map<string, SpotReport[]>()
  readonly #flagged = new Set<string>()
  readonly #verified = new Set<string>()

  constructor (init: SpotChecksInit = {}) {
    this.#rtol = init.rtol ?? 1e-3
    this.#atol = init.atol ?? 1e-4
  }

  agree (a: number[], b: number[]): boolean {
    if (a.length !== b.length || a.length === 0) return false
    for (let i = 0; i < a.length; i++) {
      const x = a[i]; const y = b[i]
      if (!Number.isFinite(x) || !Number.isFinite(y)) return false
      if (Math.abs(x - y) > this.#atol + this.#rtol * Math.max(Math.abs(x), Math.abs(y))) return false
    }
    return true
  }

  /** Records a report and returns the verdicts it settles (possibly none yet). */
  report (r: SpotReport): Verdict[] {
    const key = `${r.microbatch}:${r.stage}:${r.step}:${r.weightsDigest}`
    const list = (this.#reports.get(key) ?? []).filter(x => x.peerId !== r.peerId)
    list.push(r)
    this.#reports.set(key, list)
    const voters = votersOf(list)
    if (voters.length < 2) return []
    const verdicts: Verdict[] = []
    for (const x of list) {
      // x is judged by every identity but its own (its other tabs do not vouch for it).
      const judges = voters.filter(v => v.identity !== identityOf(x))
      const agreeing = judges.filter(v => this.agree(x.sample, v.sample)).length
      const disagreeing = judges.length - agreeing
      if (agreeing > 0 && agreeing >= disagreeing) {
        verdicts.push({ peerId: x.peerId, verdict: 'verified' })
      } else if (agreeing === 0 && disagreeing >= 2) {
        // Everyone else agrees among themselves and not with x.
        const othersAgree = judges.every(a => judges.every(b => a === b || this.agree(a.sample, b.sample)))
        if (othersAgree) verdicts.push({ peerId: x.peerId, verdict: 'flagged' })
      }
    }
    for (const v of verdicts) {
      if (v.verdict === 'flagged') this.#flagged.add(v.peerId)
      else this.#verified.add(v.peerId)
    }
    return verdicts
  }

  isFlagged (peerId: string): boolean { return this.#flagged.has(peerId) }
  isVerified (peerId: string): boolean { return this.#verified.has(peerId) }
  get flagged (): string[] { return [...this.#flagged] }
}

interface Vote { identity: string, sample: number[] }

const identityOf = (r: SpotReport): string => r.address != null ? `address:${r.address.toLowerCase()}` : `peer:${r.peerId}`

/**
 * One vote per identity, its first report: bound identities only if any reporter is bound, else
 * every (unbound) PeerId.
 */
function votersOf (list: readonly SpotReport[]): Vote[] {
  const bound = list.some(r => r.address != null)
  const votes = new Map<string, Vote>()
  for (const r of list) {
    if (bound && r.address == null) continue
    const identity = identityOf(r)
    if (!votes.has(identity)) votes.set(identity, { identity, sample: r.sample })
  }
  return [...votes.values()]
}
