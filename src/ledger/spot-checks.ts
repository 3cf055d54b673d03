// Spot checks (DESIGN.md "Verification"): right after a replica sync, some microbatches are run by
// every replica of a stage. Each reports the same sampled output elements plus a digest of the
// weights it used. Reports are compared only among replicas whose weight digests match (they
// synced with each other, so their outputs may differ by float rounding only); a replica that
// disagrees with an agreeing majority is flagged. One against one is undecided: nobody is flagged.

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
    if (list.length < 2) return []
    const verdicts: Verdict[] = []
    for (const x of list) {
      const agreeing = list.filter(y => y !== x && this.agree(x.sample, y.sample)).length
      const disagreeing = list.length - 1 - agreeing
      if (agreeing > 0 && agreeing >= disagreeing) {
        verdicts.push({ peerId: x.peerId, verdict: 'verified' })
      } else if (agreeing === 0 && disagreeing >= 2) {
        // Everyone else agrees among themselves and not with x.
        const others = list.filter(y => y !== x)
        const othersAgree = others.every(a => others.every(b => a === b || this.agree(a.sample, b.sample)))
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
