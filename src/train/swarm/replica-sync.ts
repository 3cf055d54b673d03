// Replica sync for one stage: after every `every`-th optimizer step a replica snapshots its
// weights, fetches the same step's snapshot from each other replica of the stage, averages them
// weighted by the microbatches each learned from (summed in PeerId order, so every replica gets
// the same bits), takes the DiLoCo outer step and loads the result. It runs beside the
// microbatches (StepClock holds only the *next* optimizer step until it is done). Weights go
// replica to replica only; the tracker never sees them. A peer's snapshot counts only if every
// number in it is finite, and every weight is capped at the microbatches the tracker credited
// that replica for in the period (or, until those counts are known, at a whole period's), so one
// replica can neither poison the average nor claim it for itself (peer-gate.ts).
import { averageParams } from '../replica.ts'
import { OuterOptimizer } from '../outer-step.ts'
import type { Clock } from './clock.ts'
import type { StageKernels } from './stage-compute.ts'
import { checkedContribution } from './peer-gate.ts'
import type { SyncWeights } from './transport.ts'

// Where it travels is the transport's business, so the type lives there; re-exported for callers.
export type { SyncWeights }

export interface ReplicaSyncInit {
  me: string
  /** Sync every this many optimizer steps (`training.sync_every`, DiLoCo's H). */
  every: number
  outer: { lr: number, momentum: number }
  clock: Clock
  /** GPU access ahead of queued forwards (StageCompute.exclusive). */
  exclusive: <T>(what: string, fn: (k: StageKernels) => Promise<T>) => Promise<T>
  /** The other live replicas of this stage, now. */
  peers: () => string[]
  /** Fetches `peer`'s snapshot of `step`. */
  fetch: (peer: string, step: number, expectElements: number, timeoutMs: number) => Promise<SyncWeights>
  timeoutMs: number
  /** Most microbatches one replica can have learned from in a sync period (accumulation · every): a contribution's weight is capped at it. */
  maxWeight: number
  /**
   * Microbatches each replica was credited for in the period ending at `step`, as the tracker
   * counted them (null: not known). Every weight, this replica's too, is capped at its count, so
   * a replica cannot claim more of the average than its credited work, and all replicas, reading
   * the same counts, still compute the same average.
   */
  learned?: (step: number) => Promise<Record<string, number> | null>
  /** A peer sent a snapshot with NaN/Inf (it is left out of the average). */
  onViolation?: (peer: string, err: Error) => void
  /** Digest of the loaded weights (spot checks compare replicas holding the same digest). */
  digest: (params: Float32Array) => Promise<string>
  /** Progress for the UI. */
  onMessage?: (text: string) => void
}

export interface SyncResult { step: number, averagedWith: number, digest: string }

export class ReplicaSync {
  readonly #init: ReplicaSyncInit
  readonly #outer: OuterOptimizer
  readonly #snapshots = new Map<number, SyncWeights>()
  readonly #waiters = new Map<number, Array<() => void>>()
  #sinceSync = 0
  /** The weights this replica holds right after its last sync (null while they have moved on). */
  weights: { step: number, digest: string } | null = null

  constructor (init: ReplicaSyncInit) {
    this.#init = init
    this.#outer = new OuterOptimizer(init.outer)
  }

  /** The weights this replica started from (joined, fetched or seeded) at `step`. */
  async start (params: Float32Array, step: number): Promise<void> {
    this.#outer.setAnchor(params)
    this.weights = { step, digest: await this.#init.digest(params) }
  }

  /** StepClock's hook: `step` steps are done, having learned from `microbatches`. */
  onStepped (step: number, microbatches: number): Promise<void> | undefined {
    this.#sinceSync += microbatches
    if (step % this.#init.every !== 0) { this.weights = null; return undefined }
    return this.sync(step).then(() => {})
  }

  /** Averages this replica's step-`k` weights with its peers'. */
  async sync (k: number): Promise<SyncResult> {
    const i = this.#init
    const own = await i.exclusive(`X${k}`, async g => await g.exportParams())
    const mine: SyncWeights = { step: k, params: own, weight: this.#sinceSync }
    this.#sinceSync = 0
    this.weights = null
    this.#snapshots.set(k, mine)
    for (const old of this.#snapshots.keys()) if (old < k - 1) this.#snapshots.delete(old)
    for (const wake of this.#waiters.get(k) ?? []) wake()
    this.#waiters.delete(k)
    const others = i.peers().filter(p => p !== i.me)
    let got: Array<{ peer: string, w: SyncWeights }> = []
    if (others.length > 0) {
      i.onMessage?.(`Averaging weights with ${others.length} replica${others.length === 1 ? '' : 's'} (step ${k})`)
      const settled = await Promise.allSettled(others.map(async peer => await i.fetch(peer, k, own.length, i.timeoutMs)))
      got = others.flatMap((peer, j) => {
        const r = settled[j]
        if (r.status !== 'fulfilled' || r.value.step !== k) return []
        try {
          return [{ peer, w: checkedContribution(r.value, i.maxWeight) }]
        } catch (err) {
          i.onViolation?.(peer, err as Error)
          return []
        }
      })
    }
    // Sum in PeerId order on every replica: float addition is not associative.
    const all = [...got, { peer: i.me, w: mine }].sort((a, b) => a.peer < b.peer ? -1 : 1)
    const counts = all.length > 1 ? await i.learned?.(k).catch(() => null) ?? null : null
    const weightOf = (a: { peer: string, w: SyncWeights }): number => Math.min(a.w.weight ?? 1, counts != null ? counts[a.peer] ?? 0 : Infinity)
    const mean = all.length > 1 ? averageParams(all.map(a => a.w.params), all.map(weightOf)) : own
    const next = this.#outer.step(mean)
    if (next !== own) await i.exclusive(`I${k}`, async g => { await g.importParams(next) })
    const digest = await i.digest(next)
    this.weights = { step: k, digest }
    if (others.length > 0) i.onMessage?.(`Synced with ${got.length} of ${others.length} replicas at step ${k}`)
    return { step: k, averagedWith: got.length, digest }
  }

  /** A peer asks for our step-`k` snapshot: answer at once, or when we get there (or null). */
  async snapshot (k: number): Promise<SyncWeights | null> {
    const have = this.#snapshots.get(k)
    if (have != null) return have
    await new Promise<void>(resolve => {
      const list = this.#waiters.get(k) ?? []
      list.push(resolve)
      this.#waiters.set(k, list)
      this.#init.clock.after(this.#init.timeoutMs, resolve)
    })
    return this.#snapshots.get(k) ?? null
  }
}
