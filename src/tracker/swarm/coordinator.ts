// The tracker's view of one campaign's swarm: which tab trains which stage, which microbatches
// are leased to whom, and which are done. Pure logic with an injected clock, so tests drive time.
//
// Steps are flush-synchronous: step k is microbatches [k·A, (k+1)·A) (A = accumulation), and
// step k+1's ids are leased only once every microbatch of step k has completed its backward pass
// at stage 0. Tensor headers carry the sender's step, so downstream tabs learn that step k is
// over from the first step k+1 message they get: the tracker needs no broadcast.

export interface CoordinatorInit {
  stages: number
  /** Microbatches per optimizer step (A). */
  accumulation: number
  /** Optimizer steps the campaign runs for. */
  totalSteps: number
  /** FLOPs of one microbatch (forward + backward) per stage: the work a replica's throughput is measured against. */
  stageWork: number[]
  /** @default Date.now */
  now?: () => number
  /** A tab that hasn't sent a heartbeat for this long is gone; its leases return to the pool. @default 15000 */
  tabTimeoutMs?: number
  /** A lease not completed in this long is re-leased (a stuck pipeline). @default 120000 */
  leaseTimeoutMs?: number
}

export interface TabStats {
  /** Measured compute throughput (FLOP/s). */
  throughput?: number
  busy_fraction?: number
  idle_wait_fraction?: number
  bytes_sent?: number
  bytes_received?: number
  flops?: number
  microbatches?: number
  queue?: number
  retried?: number
  /** 1 while the volunteer has paused: not routed to. */
  paused?: number
  /** Milliseconds the GPU worked, waited with nothing to do, and have passed since training began. */
  busy_ms?: number
  idle_ms?: number
  wall_ms?: number
}

export interface TabRecord {
  peerId: string
  stage: number
  /** Serving its protocols (set by its first heartbeat): only ready tabs are routed to. */
  ready: boolean
  joinedAt: number
  lastSeen: number
  stats: TabStats
}

export interface Lease { id: number, step: number }

export interface StepLoss { step: number, loss: number, microbatches: number }

export interface SwarmStatus {
  step: number
  totalSteps: number
  done: boolean
  stages: Array<{ stage: number, replicas: Array<{ peerId: string } & TabStats> }>
  losses: StepLoss[]
  microbatches: { scheduled: number, completed: number, retried: number, lost: number, in_flight: number }
}

type MbState =
  | { state: 'pending', attempts: number }
  | { state: 'leased', peerId: string, deadline: number, attempts: number }
  | { state: 'done', attempts: number, creditedTo: string }

export class UnknownTabError extends Error {
  override name = 'UnknownTabError'
}

/** Returning tabs remembered per campaign: enough for every volunteer of a large campaign. */
const MAX_PAST_STAGES = 100_000

export class NotStageZeroError extends Error {
  override name = 'NotStageZeroError'
}

export class Coordinator {
  readonly #init: Required<CoordinatorInit>
  readonly #tabs = new Map<string, TabRecord>()
  /** Stage a PeerId last trained, so a returning tab resumes it. */
  readonly #pastStage = new Map<string, number>()
  #step = 0
  #mbs = new Map<number, MbState>()
  readonly #lossSums = new Map<number, { sum: number, n: number }>()
  readonly #losses: StepLoss[] = []
  readonly #lossSeen = new Set<string>()
  /** Peers that failed verification: never routed to, never leased to again. */
  readonly #excluded = new Set<string>()
  #scheduled = 0
  #completed = 0
  #retried = 0

  constructor (init: CoordinatorInit) {
    if (init.stageWork.length !== init.stages) throw new Error('stageWork needs one entry per stage')
    this.#init = { now: Date.now, tabTimeoutMs: 15_000, leaseTimeoutMs: 120_000, ...init }
    this.#openStep(0)
  }

  get step (): number { return this.#step }
  get done (): boolean { return this.#step >= this.#init.totalSteps }

  #openStep (step: number): void {
    this.#step = step
    this.#mbs = new Map()
    // Only the open step's losses count, so the closed step's bookkeeping can go (bounded memory).
    this.#lossSums.clear()
    this.#lossSeen.clear()
    if (this.done) return
    const A = this.#init.accumulation
    for (let i = 0; i < A; i++) this.#mbs.set(step * A + i, { state: 'pending', attempts: 0 })
  }

  /** Assigns a stage: the returning tab's old one, else the stage with least throughput per unit of work. */
  join (peerId: string, opts: { throughput?: number, stage?: number } = {}): TabRecord {
    this.expire()
    const existing = this.#tabs.get(peerId)
    if (existing != null) {
      existing.lastSeen = this.#init.now()
      if (opts.throughput != null) existing.stats.throughput = opts.throughput
      return existing
    }
    const resume = opts.stage ?? this.#pastStage.get(peerId)
    const stage = resume != null && Number.isInteger(resume) && resume >= 0 && resume < this.#init.stages ? resume : this.#neediestStage()
    const rec: TabRecord = { peerId, stage, ready: false, joinedAt: this.#init.now(), lastSeen: this.#init.now(), stats: opts.throughput != null ? { throughput: opts.throughput } : {} }
    this.#tabs.set(peerId, rec)
    this.#pastStage.delete(peerId)
    this.#pastStage.set(peerId, stage)
    // Remember the most recent tabs only (bounded memory): the oldest entry goes first.
    if (this.#pastStage.size > MAX_PAST_STAGES) this.#pastStage.delete(this.#pastStage.keys().next().value!)
    return rec
  }

  #neediestStage (): number {
    let best = 0
    let bestRate = Infinity
    for (let s = 0; s < this.#init.stages; s++) {
      const replicas = [...this.#tabs.values()].filter(t => t.stage === s)
      // An unmeasured tab counts as 1 FLOP/s: present, but barely.
      const throughput = replicas.reduce((sum, t) => sum + Math.max(1, t.stats.throughput ?? 1), 0)
      const rate = throughput / this.#init.stageWork[s]
      if (rate < bestRate) { best = s; bestRate = rate }
    }
    return best
  }

  heartbeat (peerId: string, stats: TabStats = {}): TabRecord {
    const tab = this.#tab(peerId)
    tab.lastSeen = this.#init.now()
    tab.ready = true
    tab.stats = { ...tab.stats, ...stats }
    this.expire()
    return tab
  }

  /** Gives a stage-0 tab up to `max` microbatches of the current step. Empty when the step is fully leased. */
  lease (peerId: string, max = 1): { step: number, leases: Lease[] } {
    const tab = this.#tab(peerId)
    if (tab.stage !== 0) throw new NotStageZeroError(`${peerId} trains stage ${tab.stage}; only stage-0 tabs lease microbatches`)
    if (this.#excluded.has(peerId)) return { step: this.#step, leases: [] }
    tab.lastSeen = this.#init.now()
    this.expire()
    const leases: Lease[] = []
    for (const [id, mb] of this.#mbs) {
      if (leases.length >= max) break
      if (mb.state !== 'pending') continue
      if (mb.attempts > 0) this.#retried++
      else this.#scheduled++
      this.#mbs.set(id, { state: 'leased', peerId, deadline: this.#init.now() + this.#init.leaseTimeoutMs, attempts: mb.attempts + 1 })
      leases.push({ id, step: this.#step })
    }
    return { step: this.#step, leases }
  }

  /** The backward pass of `id` reached stage 0. Credited once; a late duplicate returns false. */
  complete (peerId: string, id: number): boolean {
    this.#tab(peerId)
    const mb = this.#mbs.get(id)
    if (mb == null || mb.state === 'done') return false
    this.#mbs.set(id, { state: 'done', attempts: mb.attempts, creditedTo: peerId })
    this.#completed++
    if ([...this.#mbs.values()].every(m => m.state === 'done')) {
      const l = this.#lossSums.get(this.#step)
      if (l != null) this.#losses.push({ step: this.#step, loss: l.sum / l.n, microbatches: l.n })
      this.#openStep(this.#step + 1)
    }
    return true
  }

  /** A stage-0 tab gives a microbatch back (it could not route it, or is leaving). */
  release (peerId: string, id: number): void {
    const mb = this.#mbs.get(id)
    if (mb?.state === 'leased' && mb.peerId === peerId) this.#mbs.set(id, { state: 'pending', attempts: mb.attempts })
  }

  /** Loss of a microbatch, reported by the last stage. Counted once per microbatch of the open step. */
  reportLoss (peerId: string, id: number, loss: number): void {
    this.#tab(peerId)
    const A = this.#init.accumulation
    const step = Math.floor(id / A)
    if (step !== this.#step || !Number.isFinite(loss)) return
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
    for (const t of [...this.#tabs.values()]) {
      if (now - t.lastSeen > this.#init.tabTimeoutMs) this.#drop(t.peerId)
    }
    for (const [id, mb] of this.#mbs) {
      if (mb.state === 'leased' && now > mb.deadline) this.#mbs.set(id, { state: 'pending', attempts: mb.attempts })
    }
  }

  #drop (peerId: string): void {
    this.#tabs.delete(peerId)
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
    return [...this.#tabs.values()].filter(t => t.stage === stage && t.ready && t.stats.paused !== 1 && !this.#excluded.has(t.peerId)).map(t => t.peerId).sort()
  }

  /** Takes a peer out of routing (it failed a spot check); its leases return to the pool. */
  exclude (peerId: string): void {
    this.#excluded.add(peerId)
    for (const [id, mb] of this.#mbs) {
      if (mb.state === 'leased' && mb.peerId === peerId) this.#mbs.set(id, { state: 'pending', attempts: mb.attempts })
    }
  }

  isExcluded (peerId: string): boolean { return this.#excluded.has(peerId) }

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
