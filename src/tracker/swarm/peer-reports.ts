// Tabs' reports of peers they disconnected (peer-gate violations: NaN tensors, wrong shapes, step
// bombs). A report is a claim by one tab, so it excludes no one by itself (a Sybil could report
// honest peers); the tracker keeps, per offender, the distinct reporters and reasons for the
// operator and the status page. Bounded: a flood of reports cannot grow memory.
import type { PeerReportReason } from '../../protocol/swarm.ts'

/** Offenders remembered per campaign; the oldest is forgotten first. */
export const MAX_REPORTED_PEERS = 1_000
/** Distinct reporters remembered per offender. */
export const MAX_REPORTERS = 32

export interface PeerReport { reporters: Set<string>, reasons: Set<PeerReportReason> }

export class PeerReports {
  readonly #by = new Map<string, PeerReport>()

  /** Records a report; returns how many distinct tabs reported `offender`. A tab reporting itself is ignored. */
  record (reporter: string, offender: string, reason: PeerReportReason): number {
    if (reporter === offender) return this.#by.get(offender)?.reporters.size ?? 0
    let r = this.#by.get(offender)
    if (r == null) {
      if (this.#by.size >= MAX_REPORTED_PEERS) this.#by.delete(this.#by.keys().next().value!)
      r = { reporters: new Set(), reasons: new Set() }
      this.#by.set(offender, r)
    }
    if (r.reporters.size < MAX_REPORTERS) r.reporters.add(reporter)
    r.reasons.add(reason)
    return r.reporters.size
  }

  get (offender: string): PeerReport | undefined { return this.#by.get(offender) }
}
