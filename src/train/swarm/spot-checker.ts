// Spot checks from the tab's side (DESIGN.md "Verification"). In a step right after a replica
// sync, a tab commits to every output it computes (a Merkle root over it) before it knows whether
// it is checked; the tracker's reply says whether it is (then it opens the revealed elements with
// proofs) and whether this tab must also send the microbatch to the next stage's other replicas
// ("shadows"), which compute it too and report the same way. The tracker compares replicas that
// hold the same weights digest. Only the tracker knows which microbatches are checked.
import type { SpotCommitBody, SpotCommitReply, SpotOpenBody, SpotReply } from '../../protocol/swarm.ts'
import { outputTree } from '../../ledger/output-merkle.ts'
import { createLogger } from '../../log.ts'

const log = createLogger('tabgrad:swarm')

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
  constructor (init: SpotCheckerInit) { this.#init = init }

  get enabled (): boolean { return this.#init.rate > 0 }

  /**
   * Commits to this stage's output of `mb` (computed with weights `w`, null if they moved on since
   * the sync: then it is committed but not compared) and opens it if the tracker checks it.
   * Resolves to whether the tracker wants `mb` shadowed to the next stage's other replicas.
   */
  async audit (mb: number, stage: number, output: Float32Array, w: { step: number, digest: string } | null, step: number): Promise<boolean> {
    if (!this.enabled) return false
    const tree = outputTree(output)
    try {
      const reply = await this.#init.commit({ microbatch: mb, stage, step: w?.step ?? step, weightsDigest: w?.digest ?? null, root: tree.root, numel: output.length })
      if (reply.checked && Array.isArray(reply.indices)) {
        const r = await this.#init.open({ microbatch: mb, stage, proofs: reply.indices.map(i => tree.prove(i)) })
        if (r.verdicts.some(v => v.peerId === this.#init.me && v.verdict === 'flagged')) this.#init.onFlagged?.()
      }
      return reply.shadowNext
    } catch (err) {
      log('spot check of microbatch', mb, 'stage', stage, 'failed:', (err as Error).message)
      return false
    }
  }

  /** Copies of a checked microbatch's activations for the other replicas of the next stage. */
  async sendShadows (mb: number, data: Float32Array, primary: string | undefined, next: readonly string[]): Promise<void> {
    for (const to of next.filter(p => p !== primary)) await this.#init.sendShadow(to, mb, data).catch(() => {})
  }
}
