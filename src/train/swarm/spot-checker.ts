// Spot checks from the tab's side (DESIGN.md "Verification"): right after a replica sync, when a
// stage's replicas hold identical weights, a `rate` share of microbatches is also run by every
// other replica of the next stage ("shadows"), and each reports a sample of its output to the
// tracker, which compares replicas that hold the same weights digest.
import type { SpotReply, SpotReportBody } from '../../protocol/swarm.ts'
import { spotCheckIndices } from '../../ledger/spot-checks.ts'

export interface SpotCheckerInit {
  campaign: string
  me: string
  rate: number
  /** Replica sync period (steps); checks run in the step right after a sync. */
  syncEvery: number
  report: (body: SpotReportBody) => Promise<SpotReply>
  /** Sends a shadow copy of activations to a replica. */
  sendShadow: (to: string, mb: number, data: Float32Array) => Promise<void>
  /** Told when the tracker flagged this tab. */
  onFlagged?: () => void
}

export class SpotChecker {
  readonly #init: SpotCheckerInit
  constructor (init: SpotCheckerInit) { this.#init = init }

  /** Is microbatch `mb`, sent by a replica at `appliedStep`, spot-checked? A fixed hash of the id: both sides agree. */
  checked (mb: number, appliedStep: number): boolean {
    const rate = this.#init.rate
    if (rate <= 0 || appliedStep % this.#init.syncEvery !== 0) return false
    return ((Math.imul(mb + 1, 2654435761) >>> 0) / 4294967296) < rate
  }

  /** Copies of a spot-checked microbatch's activations for the other replicas of the next stage. */
  async sendShadows (mb: number, data: Float32Array, primary: string, next: readonly string[]): Promise<void> {
    for (const to of next.filter(p => p !== primary)) await this.#init.sendShadow(to, mb, data).catch(() => {})
  }

  /** Reports a sample of the output this stage computed for `mb` with weights `w`. */
  async report (mb: number, stage: number, output: Float32Array, w: { step: number, digest: string } | null): Promise<void> {
    if (w == null) return // weights moved on since the sync: nothing comparable
    const sample = spotCheckIndices(this.#init.campaign, mb, stage, output.length).map(i => output[i])
    const r = await this.#init.report({ microbatch: mb, stage, step: w.step, weightsDigest: w.digest, sample }).catch(() => null)
    if (r?.verdicts.some(v => v.peerId === this.#init.me && v.verdict === 'flagged') === true) this.#init.onFlagged?.()
  }
}
