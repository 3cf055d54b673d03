// The tracker's view of one campaign's swarm: which tab trains which stage, which microbatches
// are leased to whom, and which are done. Pure logic with an injected clock, so tests drive time.
//
// Step k is microbatches [k·A, (k+1)·A) (A = accumulation). The step counter moves to k+1 once
// every microbatch of step k has completed its backward pass at stage 0. With `lookahead` L > 0
// the ids of steps k+1..k+L are leased too once step k's are all out, so the pipeline never
// drains at a step boundary (bounded staleness: a microbatch's gradient lands at most L steps
// late). L = 0 is the flush-synchronous schedule. Tensor headers carry the sender's step, so
// downstream tabs learn that step k is over from the first step k+1 message: no broadcast.
import type { Lease, LeaseReply, StepLoss, SwarmStatus, TabStats } from '../../protocol/swarm.ts'
export type { Lease, StepLoss, SwarmStatus, TabStats } from '../../protocol/swarm.ts'

export interface CoordinatorInit {
  stages: number
  /** Microbatches per optimizer step (A). */
  accumulation: number
  /** Optimizer steps the campaign runs for. */
  totalSteps: number
  /** FLOPs of one microbatch (forward + backward) per stage: the work a replica's throughput is measured against. */
  stageWork: number[]
  /** Bytes a replica of each stage uploads per microbatch (activations on, gradients back): what a tab's bandwidth is measured against. @default none (compute only) */
  stageBytes?: number[]
  /** @default Date.now */
  now?: () => number
  /** A tab that hasn't sent a heartbeat for this long is gone; its leases return to the pool. @default 15000 */
  tabTimeoutMs?: number
  /** A lease not completed in this long is re-leased (a stuck pipeline). @default 120000 */
  leaseTimeoutMs?: number
  /** Steps beyond the open one whose microbatches may be leased early (0 = flush at every step). @default 0 */
  lookahead?: number
}

export interface TabRecord {
  peerId: string
  stage: number
  /** Serving its protocols (set by its first heartbeat): only ready tabs are routed to. */
  ready: boolean
  joinedAt: number
  lastSeen: number
  stats: TabStats
  /** Uplink bytes/s the tab reported at join, if it measured it. */
  bandwidth?: number
}

type MbState =
  | { state: 'pending', attempts: number }
  | { state: 'leased', peerId: string, deadline: number, attempts: number, leasedAt?: number, backup?: boolean }
  | { state: 'done', attempts: number, creditedTo: string }

/**
 * A microbatch out this many mean round trips is a straggler. A tab's own queue can hold a few
 * microbatches back (its lease window), so well above 1; MapReduce-style backups need no precision.
 */
const BACKUP_AFTER = 3

/** What a tracker persists so a restart loses no step and no credit (tabs simply join again). */
export interface CoordinatorCheckpoint {
  step: number
  /** Open steps' microbatches: id, attempts so far, and 'done', 'pending' or the PeerId holding its lease. */
  microbatches: Array<[number, number, string]>
  counters: { scheduled: number, completed: number, retried: number }
  /** Peers that failed verification: they stay out after a restart. @default none */
  excluded?: string[]
  /** Open microbatches' lease holders, past and present (who may complete them). @default the leased peer */
  holders?: Array<[number, string[]]>
}

export class UnknownTabError extends Error {
  override name = 'UnknownTabError'
}

/** Returning tabs remembered per campaign: enough for every volunteer of a large campaign. */
const MAX_PAST_STAGES = 100_000

export class NotStageZeroError extends Error {
  override name = 'NotStageZeroError'
}

/** A completion by a peer that never held the microbatch's lease (a stolen lease). */
export class NotLeaseHolderError extends Error {
  override name = 'NotLeaseHolderError'
}

export class Coordinator {
  readonly #init: Required<Omit<CoordinatorInit, 'stageBytes'>> & Pick<CoordinatorInit, 'stageBytes'>
  readonly #tabs = new Map<string, TabRecord>()
  /** Stage a PeerId last trained, so a returning tab resumes it. */
  readonly #pastStage = new Map<string, number>()
  #step = 0
  #mbs = new Map<number, MbState>()
  /** Every peer an open microbatch was leased to (backups and expired leases included): who may complete it. */
  #holders = new Map<number, Set<string>>()
  /** Until then a restarted tracker credits microbatches it never leased: leases it forgot, still in flight. */
  #orphansUntil = -Infinity
  readonly #lossSums = new Map<number, { sum: number, n: number }>()
  readonly #losses: StepLoss[] = []
  readonly #lossSeen = new Set<string>()
  /** Peers that failed verification: never routed to, never leased to again. */
  readonly #excluded = new Set<string>()
  #scheduled = 0
  #completed = 0
  #retried = 0
  /** Routable replicas per stage, rebuilt after any change to the tabs (heartbeats ask for it). */
  #routable: Map<number, string[]> | null = null
  #expiredAt = -Infinity
  /** Moving average of lease → completion times: what "late" means for a straggler. */
  #roundTripMs: number | null = null
  #roundTrips = 0

  constructor (init: CoordinatorInit) {
    if (init.stageWork.length !== init.stages) throw new Error('stageWork needs one entry per stage')
    this.#init = { now: Date.now, tabTimeoutMs: 15_000, leaseTimeoutMs: 120_000, lookahead: 0, ...init }
    if (!Number.isInteger(this.#init.lookahead) || this.#init.lookahead < 0) throw new Error('lookahead must be a non-negative integer')
    this.#openStep(0)
  }

  get step (): number { return this.#step }

  checkpoint (): CoordinatorCheckpoint {
    return {
      step: this.#step,
      microbatches: [...this.#mbs].map(([id, m]) => [id, m.attempts, m.state === 'leased' ? m.peerId : m.state]),
      counters: { scheduled: this.#scheduled, completed: this.#completed, retried: this.#retried },
      excluded: [...this.#excluded],
      holders: [...this.#holders].map(([id, h]) => [id, [...h]])
    }
  }

  /**
   * Restores a checkpoint into a fresh coordinator. Leases stay with their tabs for a new lease
   * period: the microbatches in flight complete when their tabs rejoin, instead of running twice.
   */
  restore (cp: CoordinatorCheckpoint): void {
    this.#mbs = new Map()
    this.#openStep(cp.step)
    const deadline = this.#init.now() + this.#init.leaseTimeoutMs
    for (const [id, attempts, state] of cp.microbatches) {
      this.#mbs.set(id, state === 'done' ? { state: 'done', attempts, creditedTo: '' } : state === 'pending' ? { state: 'pending', attempts } : { state: 'leased', peerId: state, deadline, attempts, leasedAt: this.#init.now() })
    }
    this.#scheduled = cp.counters.scheduled
    this.#completed = cp.counters.completed
    this.#retried = cp.counters.retried
    this.#holders = new Map((cp.holders ?? []).map(([id, h]) => [id, new Set(h)]))
    for (const [id, m] of this.#mbs) if (m.state === 'leased') this.#holdersOf(id).add(m.peerId)
    for (const p of cp.excluded ?? []) this.exclude(p)
  }

  /**
   * Rebuilds the done set from the ledger (the durable record of every credited microbatch): the
   * step moves past every step whose microbatches are all credited, and credited ids of the
   * open steps count as done. A tracker that restarted credits nothing twice and loses no step.
   */
  restoreDone (credited: (id: number) => boolean): void {
    let any = false
    const isCredited = (id: number): boolean => { const c = credited(id); any ||= c; return c }
    const A = this.#init.accumulation
    let step = this.#step
    while (step < this.#init.totalSteps && Array.from({ length: A }, (_, i) => (step * A + i)).every(isCredited)) step++
    if (step !== this.#step) {
      for (const id of [...this.#mbs.keys()]) if (Math.floor(id / A) < step) { this.#mbs.delete(id); this.#holders.delete(id) }
      this.#openStep(step)
    }
    for (const [id, m] of this.#mbs) if (m.state !== 'done' && isCredited(id)) this.#mbs.set(id, { state: 'done', attempts: m.attempts, creditedTo: '' })
    // A campaign with credit had a past life whose leases may still be in flight; a new one had none.
    if (any) this.#orphansUntil = this.#init.now() + this.#init.leaseTimeoutMs
  }

  #holdersOf (id: number): Set<string> {
    let h = this.#holders.get(id)
    if (h == null) { h = new Set(); this.#holders.set(id, h) }
    return h
  }
  get done (): boolean { return this.#step >= this.#init.totalSteps }

  /** Makes `step` the open step and puts the ids of steps step..step+lookahead on the books. */
  #openStep (step: number): void {
    this.#step = step
    // Closed steps' loss bookkeeping goes (bounded memory); open and lookahead steps keep theirs.
    const A0 = this.#init.accumulation
    for (const key of this.#lossSeen) if (Math.floor(Number(key) / A0) < step) this.#lossSeen.delete(key)
    for (const s of this.#lossSums.keys()) if (s < step) this.#lossSums.delete(s)
    const A = this.#init.accumulation
    const last = Math.min(this.#init.totalSteps, step + 1 + this.#init.lookahead)
    for (let k = step; k < last; k++) {
      for (let i = 0; i < A; i++) if (!this.#mbs.has(k * A + i)) this.#mbs.set(k * A + i, { state: 'pending', attempts: 0 })
    }
  }

  /**
   * Assigns a stage: the returning tab's old one, else the stage with least throughput per unit of
   * work, leaving out the `avoid` stages (ones whose neighbours the tab cannot reach) unless all are.
   */
  join (peerId: string, opts: { throughput?: number, bandwidth?: number, stage?: number, avoid?: readonly number[] } = {}): TabRecord {
    this.#expireSoon()
    const existing = this.#tabs.get(peerId)
    if (existing != null) {
      existing.lastSeen = this.#init.now()
      if (opts.throughput != null) existing.stats.throughput = opts.throughput
      if (opts.bandwidth != null) existing.bandwidth = opts.bandwidth
      return existing
    }
    const resume = opts.stage ?? this.#pastStage.get(peerId)
    const stage = resume != null && Number.isInteger(resume) && resume >= 0 && resume < this.#init.stages ? resume : this.#neediestStage(opts.avoid)
    const rec: TabRecord = { peerId, stage, ready: false, joinedAt: this.#init.now(), lastSeen: this.#init.now(), stats: opts.throughput != null ? { throughput: opts.throughput } : {}, ...(opts.bandwidth != null ? { bandwidth: opts.bandwidth } : {}) }
    this.#tabs.set(peerId, rec)
    this.#pastStage.delete(peerId)
    this.#pastStage.set(peerId, stage)
    this.#routable = null
    // Remember the most recent tabs only (bounded memory): the oldest entry goes first.
    if (this.#pastStage.size > MAX_PAST_STAGES) this.#pastStage.delete(this.#pastStage.keys().next().value!)
    return rec
  }

  /**
   * The stage with the fewest microbatches per second, counting each replica as the slower of its
   * GPU (throughput / the stage's FLOPs) and its uplink (bandwidth / the stage's bytes), when known.
   */
  #neediestStage (avoid: readonly number[] = []): number {
    const rate = new Array<number>(this.#init.stages).fill(0)
    for (const t of this.#tabs.values()) {
      // An unmeasured tab counts as 1 FLOP/s: present, but barely.
      const compute = Math.max(1, t.stats.throughput ?? 1) / this.#init.stageWork[t.stage]
      const bytes = this.#init.stageBytes?.[t.stage]
      rate[t.stage] += t.bandwidth != null && bytes != null && bytes > 0 ? Math.min(compute, t.bandwidth / bytes) : compute
    }
    const allowed = rate.map((_, s) => s).filter(s => !avoid.includes(s))
    const candidates = allowed.length > 0 ? allowed : rate.map((_, s) => s)
    let best = candidates[0]
    for (const s of candidates) if (rate[s] < rate[best]) best = s
    return best
  }

  heartbeat (peerId: string, stats: TabStats = {}): TabRecord {
    const tab = this.#tab(peerId)
    tab.lastSeen = this.#init.now()
    if (!tab.ready || (stats.paused != null && stats.paused !== tab.stats.paused)) this.#routable = null
    tab.ready = true
    tab.stats = { ...tab.stats, ...stats }
    this.#expireSoon()
    return tab
  }

  /** Gives a stage-0 tab up to `max` microbatches of the current step. Empty when the step is fully leased. */
  lease (peerId: string, max = 1): LeaseReply {
    const tab = this.#tab(peerId)
    if (tab.stage !== 0) throw new NotStageZeroError(`${peerId} trains stage ${tab.stage}; only stage-0 tabs lease microbatches`)
    if (this.#excluded.has(peerId)) return { step: this.#step, leases: [] }
    tab.lastSeen = this.#init.now()
    this.#expireSoon()
    const leases: Lease[] = []
    const A = this.#init.accumulation
    // Step k's ids may go once no id of an earlier open step waits (lookahead; L = 0 never gets there).
    const pending = new Map<number, number>()
    for (const [id, mb] of this.#mbs) if (mb.state === 'pending') pending.set(Math.floor(id / A), (pending.get(Math.floor(id / A)) ?? 0) + 1)
    const blocked = (k: number): boolean => {
      for (let j = this.#step; j < k; j++) if ((pending.get(j) ?? 0) > 0) return true
      return false
    }
    for (const [id, mb] of this.#mbs) {
      if (leases.length >= max) break
      const k = Math.floor(id / A)
      if (mb.state !== 'pending' || blocked(k)) continue
      pending.set(k, pending.get(k)! - 1)
      if (mb.attempts > 0) this.#retried++
      else this.#scheduled++
      this.#mbs.set(id, { state: 'leased', peerId, deadline: this.#init.now() + this.#init.leaseTimeoutMs, attempts: mb.attempts + 1, leasedAt: this.#init.now() })
      this.#holdersOf(id).add(peerId)
      leases.push({ id, step: Math.floor(id / A) })
    }
    if (leases.length < max) this.#backups(peerId, max - leases.length, leases)
    return { step: this.#step, leases }
  }

  /**
   * Stragglers: when nothing new is leasable, a microbatch of the open step that has been out
   * for over BACKUP_AFTER × the usual round trip is handed to a second stage-0 tab as well (a backup
   * task, as MapReduce does). The first completion is credited; one slow or silently dead
   * route no longer holds the whole swarm at a step boundary until its lease times out.
   */
  #backups (peerId: string, room: number, leases: Lease[]): void {
    if (this.#roundTripMs == null || this.#roundTrips < 4) return
    const now = this.#init.now()
    const A = this.#init.accumulation
    for (let i = 0; i < A && room > 0; i++) {
      const id = this.#step * A + i
      const mb = this.#mbs.get(id)
      if (mb?.state !== 'leased' || mb.backup === true || mb.peerId === peerId) continue
      if (now - (mb.leasedAt ?? now) < BACKUP_AFTER * this.#roundTripMs) continue
      mb.backup = true
      this.#holdersOf(id).add(peerId)
      this.#retried++
      leases.push({ id, step: this.#step })
      room--
    }
  }

  /**
   * The backward pass of `id` reached stage 0. Credited once; a late duplicate returns false.
   * `loss` is the last stage's loss of it, relayed back with the gradients: counted here, before
   * the step can close, so a step's loss always averages all of its microbatches.
   */
  complete (peerId: string, id: number, loss?: number): boolean {
    if (this.mayComplete(peerId, id) !== 'credit') return false
    const mb = this.#mbs.get(id)!
    if (loss != null) this.#countLoss(id, loss)
    if (mb.state === 'leased' && mb.leasedAt != null && mb.backup !== true) {
      const ms = this.#init.now() - mb.leasedAt
      this.#roundTripMs = this.#roundTripMs == null ? ms : 0.9 * this.#roundTripMs + 0.1 * ms
      this.#roundTrips++
    }
    this.#mbs.set(id, { state: 'done', attempts: mb.attempts, creditedTo: peerId })
    this.#completed++
    const A = this.#init.accumulation
    while (!this.done && Array.from({ length: A }, (_, i) => this.#mbs.get(this.#step * A + i)).every(m => m?.state === 'done')) {
      const l = this.#lossSums.get(this.#step)
      if (l != null) this.#losses.push({ step: this.#step, loss: l.sum / l.n, microbatches: l.n })
      this.#lossSums.delete(this.#step)
      for (let i = 0; i < A; i++) { this.#mbs.delete(this.#step * A + i); this.#holders.delete(this.#step * A + i) }
      this.#openStep(this.#step + 1)
    }
    return true
  }

  /**
   * Whether a completion by `peerId` would be credited, without changing anything (the tracker
   * asks before it writes the ledger entry, and completes only once that entry is durable).
   * Throws NotLeaseHolderError for a peer that never held this microbatch's lease.
   */
  mayComplete (peerId: string, id: number): 'credit' | 'duplicate' {
    this.#tab(peerId)
    const mb = this.#mbs.get(id)
    if (mb == null || mb.state === 'done' || this.#excluded.has(peerId)) return 'duplicate'
    const holders = this.#holders.get(id)
    // Not leased since a restart: the work of a lease the old process granted (the route check still applies).
    const orphan = holders == null && mb.state === 'pending' && mb.attempts === 0 && this.#init.now() < this.#orphansUntil
    if (holders?.has(peerId) !== true && !orphan) throw new NotLeaseHolderError(`microbatch ${id} is not leased to ${peerId}`)
    return 'credit'
  }

  /** The stage `peerId` trains, or last trained if it has left: what its receipts may claim. */
  joinedStage (peerId: string): number | undefined {
    return this.#tabs.get(peerId)?.stage ?? this.#pastStage.get(peerId)
  }

  /** A stage-0 tab gives a microbatch back (it could not route it, or is leaving). */
  release (peerId: string, id: number): void {
    const mb = this.#mbs.get(id)
    if (mb?.state === 'leased' && mb.peerId === peerId) this.#mbs.set(id, { state: 'pending', attempts: mb.attempts })
  }

  /** Loss of a microbatch, reported by the last stage. Counted once per microbatch of the open step. */
  reportLoss (peerId: string, id: number, loss: number): void {
    // Only the last stage computes a loss: anyone else's would only poison the curve.
    if (this.#tab(peerId).stage !== this.#init.stages - 1 || this.#excluded.has(peerId)) return
    this.#countLoss(id, loss)
  }

  #countLoss (id: number, loss: number): void {
    const A = this.#init.accumulation
    const step = Math.floor(id / A)
    if (step < this.#step || step > this.#step + this.#init.lookahead || !Number.isFinite(loss)) return
    const key = `${id}`
    if (this.#lossSeen.has(key)) return
    this.#lossSeen.add(key)
    const l = this.#lossSums.get(step) ?? { sum: 0, n: 0 }
    l.sum += loss
    l.n++
    this.#lossSums.set(step, l)
  }

  leave (peerId: string): void {
    this.#drop(peerId)
  }

  /** Drops tabs that stopped sending heartbeats and re-pools leases that timed out or lost their tab. */
  expire (): void {
    const now = this.#init.now()
    this.#expiredAt = now
    for (const t of [...this.#tabs.values()]) {
      if (now - t.lastSeen > this.#init.tabTimeoutMs) this.#drop(t.peerId)
    }
    for (const [id, mb] of this.#mbs) {
      if (mb.state === 'leased' && now > mb.deadline) this.#mbs.set(id, { state: 'pending', attempts: mb.attempts })
    }
  }

  /** expire() at most once a second: callers on every request would make it O(tabs) per request. */
  #expireSoon (): void {
    if (this.#init.now() - this.#expiredAt >= 1000) this.expire()
  }

  #drop (peerId: string): void {
    if (this.#tabs.delete(peerId)) this.#routable = null
    for (const [id, mb] of this.#mbs) {
      if (mb.state === 'leased' && mb.peerId === peerId) this.#mbs.set(id, { state: 'pending', attempts: mb.attempts })
    }
  }

  #tab (peerId: string): TabRecord {
    const t = this.#tabs.get(peerId)
    if (t == null) throw new UnknownTabError(`${peerId} has not joined this campaign (or timed out): join again`)
    return t
  }

  replicas (stage: number): string[] {
    if (this.#routable == null) {
      const by = new Map<number, string[]>()
      for (const t of this.#tabs.values()) {
        if (!t.ready || t.stats.paused === 1 || this.#excluded.has(t.peerId)) continue
        by.set(t.stage, [...(by.get(t.stage) ?? []), t.peerId])
      }
      for (const list of by.values()) list.sort()
      this.#routable = by
    }
    return [...(this.#routable.get(stage) ?? [])]
  }

  /** Takes a peer out of routing (it failed or skipped spot checks); its leases return to the pool. */
  exclude (peerId: string): void {
    this.#excluded.add(peerId)
    this.#routable = null
    for (const [id, mb] of this.#mbs) {
      if (mb.state === 'leased' && mb.peerId === peerId) this.#mbs.set(id, { state: 'pending', attempts: mb.attempts })
    }
  }

  isExcluded (peerId: string): boolean { return this.#excluded.has(peerId) }

  /** Every peer taken out so far (what the tracker persists). */
  excludedPeers (): string[] { return [...this.#excluded] }

  tab (peerId: string): TabRecord | undefined {
    return this.#tabs.get(peerId)
  }

  status (): SwarmStatus {
    const stages = Array.from({ length: this.#init.stages }, (_, stage) => ({
      stage,
      replicas: [...this.#tabs.values()].filter(t => t.stage === stage).map(t => ({ peerId: t.peerId, ...t.stats, ...(this.#excluded.has(t.peerId) ? { excluded: 1 } : {}) }))
    }))
    const inFlight = [...this.#mbs.values()].filter(m => m.state === 'leased').length
    return {
      step: this.#step,
      totalSteps: this.#init.totalSteps,
      done: this.done,
      stages,
      losses: [...this.#losses],
      // Leased microbatches that neither completed nor are still in flight or waiting to be re-run.
      microbatches: { scheduled: this.#scheduled, completed: this.#completed, retried: this.#retried, lost: this.#lost(), in_flight: inFlight }
    }
  }

  #lost (): number {
    // Every scheduled id is done, leased, or pending for a re-run (it stays in the open step);
    // ids only leave the books by completing, so nothing can be lost unless a step was abandoned.
    let open = 0
    for (const m of this.#mbs.values()) if (m.state !== 'done' && m.attempts > 0) open++
    const inBooks = this.#completed + open
    return Math.max(0, this.#scheduled - inBooks)
  }
}
