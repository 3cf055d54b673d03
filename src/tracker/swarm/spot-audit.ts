// The tracker's side of spot checks (DESIGN.md "Verification"), built so that the checked replica
// cannot choose, foresee or skip its check:
// - Which (microbatch, stage) pairs are checked, and which output elements, come from an HMAC under
//   a secret only the tracker holds (kept in the campaign's state file), never from a public hash.
// - The replicas of the stage before a checked one hear ahead of time which microbatches to send to
//   every replica of the checked stage ("shadows"); the checked replicas are never told.
// - A replica commits to its whole output (a Merkle root, ledger/output-merkle.ts) before it learns
//   whether it is checked; the commit's reply reveals that and the indices, and the replica opens
//   them with proofs. A value that does not open under its commitment is refused (422).
// - Reports are mandatory: a route member of a checked microbatch has that microbatch's credit
//   pending until its opened report arrives; after `deadlineMs` it counts as skipped, and a peer
//   that skips `maxSkips` checks is excluded like one that failed a check.
// Opened samples go to SpotChecks, which compares replicas that hold the same weights.
import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { openProof } from '../../ledger/output-merkle.ts'
import type { SpotChecks, Verdict } from '../../ledger/spot-checks.ts'
import type { SignedReceipt } from '../../ledger/receipt.ts'
import { inPostSyncStep, type SpotCommitBody, type SpotCommitReply } from '../../protocol/swarm.ts'
import { HttpError } from '../errors.ts'

/** Output elements sampled per check. */
export const SPOT_SAMPLES = 32

export interface SpotAuditInit {
  /** The campaign's secret (32 bytes): nobody else can tell which microbatches are checked. */
  secret: Uint8Array
  /** Share of (microbatch, stage) pairs checked, in steps right after a replica sync. */
  rate: number
  syncEvery: number
  accumulation: number
  stages: number
  checks: SpotChecks
  /** How long a route member has to open its check after the microbatch is credited. @default 90000 */
  deadlineMs?: number
  /** Skipped checks that exclude a peer. @default 3 */
  maxSkips?: number
  now?: () => number
}

interface Commitment { step: number, weightsDigest: string | null, root: string, numel: number, opened: boolean, at: number }

export class SpotAudit {
  readonly #i: SpotAuditInit
  readonly #now: () => number
  /** `${mb}:${stage}:${peer}` → what that replica committed to. */
  readonly #commits = new Map<string, Commitment>()
  /** `${mb}:${peer}` → a checked route member's credit waiting on its report. */
  readonly #pending = new Map<string, { peer: string, since: number }>()
  /** `${mb}:${peer}` of checks skipped past their deadline: that credit stays out unless a late report opens them. */
  readonly #skipped = new Set<string>()
  readonly #skips = new Map<string, number>()
  /** shadowsAhead's answers, by `${stage}:${step}` (bounded). */
  readonly #ahead = new Map<string, number[]>()

  constructor (init: SpotAuditInit) {
    this.#i = init
    this.#now = init.now ?? Date.now
  }

  #hmac (label: string): Uint8Array {
    return hmac(sha256, this.#i.secret, new TextEncoder().encode(label))
  }

  /** Whether `stage`'s replicas run and report microbatch `mb`: only stages that receive activations, in a step right after a sync. */
  selects (mb: number, stage: number): boolean {
    if (this.#i.rate <= 0 || stage < 1 || stage >= this.#i.stages) return false
    if (!inPostSyncStep(mb, this.#i.accumulation, this.#i.syncEvery)) return false
    const h = this.#hmac(`select:${mb}:${stage}`)
    return new DataView(h.buffer, h.byteOffset).getUint32(0) / 2 ** 32 < this.#i.rate
  }

  /** The output elements a check of (`mb`, `stage`) opens: secret until a replica has committed. */
  indices (mb: number, stage: number, numel: number): number[] {
    const out: number[] = []
    for (let block = 0; out.length < Math.min(SPOT_SAMPLES, numel); block++) {
      const h = this.#hmac(`indices:${mb}:${stage}:${block}`)
      const view = new DataView(h.buffer, h.byteOffset)
      for (let i = 0; i + 4 <= h.length && out.length < Math.min(SPOT_SAMPLES, numel); i += 4) out.push(view.getUint32(i) % numel)
    }
    return out
  }

  /** Records `peer`'s commitment to its output of (mb, stage); the reply reveals whether it is checked. */
  commit (peer: string, c: SpotCommitBody): SpotCommitReply {
    const key = `${c.microbatch}:${c.stage}:${peer}`
    const held = this.#commits.get(key)
    if (held != null && held.root !== c.root) throw new HttpError(409, `microbatch ${c.microbatch} stage ${c.stage}: this replica already committed to another output`)
    const checked = this.selects(c.microbatch, c.stage)
    if (checked && held == null) this.#commits.set(key, { step: c.step, weightsDigest: c.weightsDigest, root: c.root, numel: c.numel, opened: false, at: this.#now() })
    return checked ? { checked, indices: this.indices(c.microbatch, c.stage, c.numel) } : { checked }
  }

  /**
   * What a sender at `stage` shadows: the microbatches of steps `step` and `step + 1` whose
   * outputs at `stage + 1` are checked. Told to the sender ahead of time, never to the checked.
   */
  shadowsAhead (stage: number, step: number): number[] {
    const key = `${stage}:${step}`
    let held = this.#ahead.get(key)
    if (held == null) {
      held = []
      const a = this.#i.accumulation
      for (let mb = step * a; mb < (step + 2) * a; mb++) if (this.selects(mb, stage + 1)) held.push(mb)
      if (this.#ahead.size >= 64) this.#ahead.clear()
      this.#ahead.set(key, held)
    }
    return held
  }

  /** Opens `peer`'s committed check with one proof per revealed index; verdicts the report settles. */
  open (peer: string, mb: number, stage: number, proofs: unknown, address?: string): Verdict[] {
    const c = this.#commits.get(`${mb}:${stage}:${peer}`)
    if (c == null) throw new HttpError(409, `microbatch ${mb} stage ${stage}: nothing committed by this replica, or not checked`)
    const indices = this.indices(mb, stage, c.numel)
    if (!Array.isArray(proofs) || proofs.length !== indices.length) throw new HttpError(400, `proofs must be an array of ${indices.length}`)
    const sample = indices.map((index, k) => openProof(c.root, c.numel, index, proofs[k]))
    if (sample.some(v => v == null)) throw new HttpError(422, `microbatch ${mb} stage ${stage}: a value does not open under this replica's commitment`)
    if (!c.opened) {
      c.opened = true
      this.#pending.delete(`${mb}:${peer}`)
      this.#skipped.delete(`${mb}:${peer}`)
    }
    // Weights that moved on since the sync match no one's: committed and owed, never compared.
    const weightsDigest = c.weightsDigest ?? `unsynced:${peer}`
    return this.#i.checks.report({ peerId: peer, microbatch: mb, stage, step: c.step, weightsDigest, sample: sample as number[], ...(address != null ? { address } : {}) })
  }

  /** A credited microbatch: every checked route member that has not opened its check owes it now. */
  credited (mb: number, receipts: readonly SignedReceipt[]): void {
    for (const { receipt } of receipts) {
      if (receipt.direction !== 'bwd' || !this.selects(mb, receipt.stage)) continue
      const c = this.#commits.get(`${mb}:${receipt.stage}:${receipt.from}`)
      if (c?.opened === true) continue
      this.#pending.set(`${mb}:${receipt.from}`, { peer: receipt.from, since: this.#now() })
    }
  }

  /** Whether `peer`'s credit for `mb` waits on (or lost it to) a check it has not opened. */
  isPending (peer: string, mb: number): boolean {
    return this.#pending.has(`${mb}:${peer}`) || this.#skipped.has(`${mb}:${peer}`)
  }

  /**
   * Counts checks past their deadline as skipped (their credit stays out) and returns peers that
   * just reached `maxSkips`.
   */
  sweep (): string[] {
    const deadlineMs = this.#i.deadlineMs ?? 90_000
    const deadline = this.#now() - deadlineMs
    // Commitments nobody can still owe (a credited route owes within the deadline).
    for (const [key, c] of this.#commits) if (c.at < deadline - deadlineMs) this.#commits.delete(key)
    const out: string[] = []
    for (const [key, p] of this.#pending) {
      if (p.since > deadline) continue
      this.#pending.delete(key)
      this.#skipped.add(key)
      const n = (this.#skips.get(p.peer) ?? 0) + 1
      this.#skips.set(p.peer, n)
      if (n === (this.#i.maxSkips ?? 3)) out.push(p.peer)
    }
    return out
  }

  skipsOf (peer: string): number { return this.#skips.get(peer) ?? 0 }
  /** Checks whose reports are still due (within their deadline). */
  get due (): number { return this.#pending.size }
}
