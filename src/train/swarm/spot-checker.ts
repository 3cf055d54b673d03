// Spot checks from the tab's side (DESIGN.md "Verification"). In a step right after a replica
// sync, a tab commits to every output it computes (a Merkle root over it) before it knows whether
// it is checked; the tracker's reply says whether it is, and then the tab opens the revealed
// elements with proofs. The tracker also tells the replicas of the stage before a checked one, in
// lease and heartbeat replies, which microbatches to send to every other replica of the checked
// stage ("shadows"), which compute them too and report the same way. The checked replica is never
// told. Nothing here is awaited on the forward path.
import type { SpotCommitBody, SpotCommitReply, SpotOpenBody, SpotReply } from '../../protocol/swarm.ts'
import { outputTree } from '../../ledger/output-merkle.ts'
import { createLogger } from '../../log.ts'

const log = createLogger('tabgrad:swarm')

/** Shadow ids remembered: two steps' worth at the largest accumulation, with room. */
const MAX_SHADOWS = 1024

export interface SpotCheckerInit {
  me: string
  /** The campaign's spot-check rate: 0 turns the commits off. */
  rate: number
  commit: (body: SpotCommitBody) => Promise<SpotCommitReply>
  open: (body: SpotOpenBody) => Promise<SpotReply>
  /** Sends a shadow copy of activations to a replica. */
  sendShadow: (to: string, mb: number, data: Float32Array) => Promise<void>
  /** Told when the tracker flagged this tab. */
  onFlagged?: () => void
}

export class SpotChecker {
  readonly #init: SpotCheckerInit
  readonly #shadows = new Set<number>()
  constructor (init: SpotCheckerInit) { this.#init = init }

  get enabled (): boolean { return this.#init.rate > 0 }

  /**
   * Commits to this stage's output of `mb` (computed with weights `w`, null if they moved on since
   * the sync: then it is committed but not compared) and opens it if the tracker checks it.
   */
  async audit (mb: number, stage: number, output: Float32Array, w: { step: number, digest: string } | null, step: number): Promise<void> {
    if (!this.enabled) return
    const tree = outputTree(output)
    try {
      const reply = await this.#init.commit({ microbatch: mb, stage, step: w?.step ?? step, weightsDigest: w?.digest ?? null, root: tree.root, numel: output.length })
      if (reply.checked && Array.isArray(reply.indices)) {
        const r = await this.#init.open({ microbatch: mb, stage, proofs: reply.indices.map(i => tree.prove(i)) })
        if (r.verdicts.some(v => v.peerId === this.#init.me && v.verdict === 'flagged')) this.#init.onFlagged?.()
      }
    } catch (err) {
      log('spot check of microbatch', mb, 'stage', stage, 'failed:', (err as Error).message)
    }
  }

  /** The tracker's word on which microbatches this tab shadows (lease and heartbeat replies). */
  learnShadows (mbs: unknown): void {
    if (!Array.isArray(mbs)) return
    for (const mb of mbs) if (Number.isSafeInteger(mb) && (mb as number) >= 0) this.#shadows.add(mb as number)
    // Bounded: the oldest ids go first (they are long sent).
    for (const mb of this.#shadows) { if (this.#shadows.size <= MAX_SHADOWS) break; this.#shadows.delete(mb) }
  }

  /** Whether `mb`'s activations also go to the next stage's other replicas. */
  shadows (mb: number): boolean { return this.enabled && this.#shadows.has(mb) }

  /** Copies of a checked microbatch's activations for the other replicas of the next stage. */
  async sendShadows (mb: number, data: Float32Array, primary: string | undefined, next: readonly string[]): Promise<void> {
    for (const to of next.filter(p => p !== primary)) await this.#init.sendShadow(to, mb, data).catch(() => {})
  }
}
