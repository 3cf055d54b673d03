// The swarm runtime of one stage replica, composed from its parts (js-libp2p's createLibp2p
// shape): stage compute, step clock, replica sync, router, lease pump, spot checks, membership,
// and the stage flow that runs the microbatch recipe between them, behind the peer gate that every
// inbound tensor and weights request passes first. It holds no logic of its own beyond wiring
// and counters. The browser tab (swarm-tab.ts) and the simulator (src/sim) both
// build one; they differ only in the kernels, transport, tracker and clock they pass.
import type { TrackerClient } from './tracker-client.ts'
import { isForgotten } from './tracker-client.ts'
import type { TabStats } from '../../protocol/swarm.ts'
import type { TrainingSection } from '../../campaign/manifest.ts'
import type { SwarmSettings } from '../../campaign/swarm-settings.ts'
import type { CodecName } from '../../codec/codec.ts'
import { BoundaryEncoder } from '../../codec/boundary.ts'
import type { Microbatch } from '../data.ts'
import type { Clock } from './clock.ts'
import { StageCompute, type StageKernels } from './stage-compute.ts'
import { StepClock } from './step-clock.ts'
import { ReplicaSync, type SyncWeights } from './replica-sync.ts'
import { Router } from './router.ts'
import { ReplicaPicker } from './replica-picker.ts'
import { LeasePump } from './lease-pump.ts'
import { ValidationPass } from './validation-pass.ts'
import { SpotChecker } from './spot-checker.ts'
import { Membership } from './membership.ts'
import { StageFlow } from './stage-flow.ts'
import { PeerGate } from './peer-gate.ts'
import { GateError, StepAheadError, UnlistedPeerError } from './errors.ts'
import { PEER_REPORT_REASONS, type PeerReportReason } from '../../protocol/swarm.ts'
import type { HopSigner, InboundTensor, TensorTransport } from './transport.ts'
import { COMPLETE_RETRIES, HEARTBEAT_MS, LEASE_RETRY_MS, ROUTE_CHECK_MS, ROUTE_TIMEOUT_MS, ROUTE_TIMEOUT_PER_STAGE_MS, SYNC_TIMEOUT_MS } from './constants.ts'

export interface RuntimeTimings {
  /** @default HEARTBEAT_MS */ heartbeatMs?: number
  /** @default ROUTE_CHECK_MS */ routeCheckMs?: number
  /** @default ROUTE_TIMEOUT_MS */ routeTimeoutMs?: number
  /** @default SYNC_TIMEOUT_MS */ syncTimeoutMs?: number
}

export interface SwarmRuntimeInit {
  me: string
  campaign: string
  stage: number
  stages: number
  isFirst: boolean
  isLast: boolean
  training: TrainingSection
  settings: SwarmSettings
  spotCheckRate: number
  /** (B, T, C). */
  shape: [number, number, number]
  /** The campaign's boundary codec (manifest `codec`). @default 'fp32' */
  codec?: CodecName
  flops: { forward: number, backward: number }
  tracker: Pick<TrackerClient, 'heartbeat' | 'lease' | 'complete' | 'release' | 'spotcommit' | 'spotcheck' | 'learned' | 'join' | 'report' | 'evalloss' | 'status'>
  transport: TensorTransport
  signer: HopSigner
  kernels: StageKernels
  clock: Clock
  /** Activation slots the stage's memory allows. */
  slots: number
  /** Steps the loaded weights have taken, and the weights (the first sync period's anchor). */
  initialStep: number
  initialParams: Float32Array
  replicas: string[]
  throughput: number
  data: ((mb: number) => Microbatch) | null
  /** The fixed validation windows (stage 0 and the last stage of a campaign that holds tokens out). */
  validation?: { batches: number, microbatch: (k: number) => Pick<Microbatch, 'inputs' | 'targets'> } | null
  timings?: RuntimeTimings
  events?: RuntimeEvents
}

export interface RuntimeEvents {
  /** Counters or membership changed. */
  changed?: () => void
  message?: (text: string) => void
  flagged?: () => void
  excluded?: () => void
  /** A peer broke the protocol (NaN, wrong shape, step bomb): it was disconnected and reported. */
  violation?: (peer: string, err: Error) => void
  done?: () => void
}

export interface RuntimeCounters {
  microbatches: number
  flops: number
  bytesSent: number
  bytesReceived: number
  retried: number
  lastLoss: number | null
}

export class SwarmRuntime {
  readonly compute: StageCompute
  readonly steps: StepClock
  readonly sync: ReplicaSync
  readonly router: Router
  readonly pump: LeasePump
  readonly spot: SpotChecker
  readonly membership: Membership
  readonly flow: StageFlow
  readonly gate: PeerGate
  readonly validation: ValidationPass
  readonly picker = new ReplicaPicker()
  readonly counters: RuntimeCounters = { microbatches: 0, flops: 0, bytesSent: 0, bytesReceived: 0, retried: 0, lastLoss: null }
  readonly #i: SwarmRuntimeInit
  #paused = false
  #stopped = false
  #startedAt = 0
  #routeTimer: unknown = null
  #rejoining: Promise<void> | null = null
  /** The tracker's step from its own replies (join, leases, heartbeats): peers cannot move it. */
  #trackerStep: number

  constructor (init: SwarmRuntimeInit) {
    this.#i = init
    this.#trackerStep = init.initialStep
    const t = init.timings ?? {}
    const ev = init.events ?? {}
    const changed = (): void => { ev.changed?.() }
    const capacity = init.isFirst ? Math.max(init.slots, init.settings.inflight) : init.slots
    this.compute = new StageCompute({ kernels: init.kernels, slots: init.slots, capacity, clock: init.clock, onSlotFreed: () => { this.pump.kick() } })
    const exclusive = this.compute.exclusive.bind(this.compute)
    this.sync = new ReplicaSync({
      me: init.me, every: init.training.sync_every, outer: { lr: init.settings.outer_lr, momentum: init.settings.outer_momentum },
      clock: init.clock, exclusive, peers: () => this.membership.replicas, timeoutMs: t.syncTimeoutMs ?? SYNC_TIMEOUT_MS,
      fetch: async (peer, step, n, ms) => await init.transport.fetchWeights(peer, step, n, ms),
      digest: async p => await init.signer.digest(p),
      maxWeight: init.training.accumulation * init.training.sync_every,
      learned: async step => await init.tracker.learned(step),
      onViolation: (peer, err) => { this.#violation(peer, err) },
      onMessage: text => { ev.message?.(text) }
    })
    this.steps = new StepClock({ exclusive, training: init.training, initialStep: init.initialStep, onStepped: (step, n) => { changed(); return this.#evaluateAfter(step, this.sync.onStepped(step, n)) } })
    this.router = new Router({
      picker: this.picker, clock: init.clock, next: () => this.membership.next, connected: p => init.transport.connected(p),
      routeTimeoutMs: t.routeTimeoutMs ?? Math.max(ROUTE_TIMEOUT_MS, ROUTE_TIMEOUT_PER_STAGE_MS * init.stages), sendTo: async (to, mb, route) => await this.flow.sendActivationsTo(to, mb, route),
      onRetry: () => { this.counters.retried++; changed() }
    })
    // Stage 0 holds at most `capacity` microbatches: one per activation slot unless the campaign
    // trades recomputation for a fuller pipeline (swarm.inflight).
    const window = capacity
    this.pump = new LeasePump({
      clock: init.clock, window,
      lease: async n => this.#shadowing(await init.tracker.lease(n)),
      release: async id => { await init.tracker.release(id) },
      freeSlots: () => this.compute.freeSlots,
      canStart: () => init.isFirst && this.flow.running && !this.#paused && !this.#stopped && (init.isLast || this.membership.next.length > 0),
      start: lease => { void this.flow.start(lease.id) },
      onStep: step => { this.#trackerSaid(step); this.#learnStep(step) },
      onError: async err => { if (isForgotten(err)) await this.#rejoin() }
    })
    this.validation = new ValidationPass({
      isFirst: init.isFirst, isLast: init.isLast, totalSteps: init.training.steps, windows: init.validation ?? null, compute: this.compute,
      send: async (batch, step, x) => { await this.flow.sendEval(batch, step, x) },
      report: async body => { await init.tracker.evalloss(body) }
    })
    this.spot = new SpotChecker({
      me: init.me, rate: init.spotCheckRate,
      commit: async body => await init.tracker.spotcommit(body),
      open: async body => await init.tracker.spotcheck(body),
      sendShadow: async (to, mb, data) => { await this.flow.sendShadow(to, mb, data) },
      onFlagged: () => { ev.flagged?.() }
    })
    this.membership = new Membership({
      me: init.me, clock: init.clock, periodMs: t.heartbeatMs ?? HEARTBEAT_MS,
      heartbeat: async stats => this.#shadowing(await init.tracker.heartbeat(stats)), stats: () => this.stats(),
      stage: init.stage, status: async () => await init.tracker.status(),
      isExcluded: p => this.picker.isExcluded(p), warm: async p => { await init.transport.warm(p) },
      onChange: () => { changed(); this.pump.kick() },
      // Between microbatches only: a heartbeat must not step weights under a microbatch in flight.
      onStep: step => { this.#trackerSaid(step); if (this.router.routes.size === 0) this.#learnStep(step) },
      onExcluded: () => { ev.excluded?.() }, onDone: () => { ev.done?.() },
      onForgotten: async () => { await this.#rejoin() }, isForgotten
    })
    this.membership.replicas = init.replicas
    this.flow = new StageFlow({
      me: init.me, stage: init.stage, isFirst: init.isFirst, isLast: init.isLast, flops: init.flops, lookahead: init.settings.lookahead, syncEvery: init.training.sync_every, accumulation: init.training.accumulation,
      shape: init.shape, compute: this.compute, clock: this.steps, router: this.router, spot: this.spot, signer: init.signer,
      transport: init.transport, data: init.data, validation: this.validation,
      encoder: new BoundaryEncoder({ codec: init.codec ?? 'fp32', campaignSeed: init.training.seed, stage: init.stage, shape: init.shape }),
      complete: async (mb, receipts, w, loss) => this.#shadowing(await init.tracker.complete(mb, receipts, w, loss)),
      retryCompletion: async (err, attempt) => {
        if (attempt >= COMPLETE_RETRIES || this.#stopped) return false
        if (isForgotten(err)) await this.#rejoin()
        else await init.clock.sleep(LEASE_RETRY_MS * 2 ** attempt) // the tracker is restarting or unreachable
        return true
      },
      release: async mb => { await init.tracker.release(mb) },
      window: () => this.#paused ? 0 : this.pump.wanted(this.router.routes.size),
      leases: this.pump,
      syncedWeights: () => this.sync.weights,
      next: () => this.membership.next,
      events: {
        microbatchDone: n => { this.counters.microbatches++; this.counters.flops += n; changed() },
        flops: n => { this.counters.flops += n },
        loss: (_mb, loss) => { this.counters.lastLoss = loss; changed() },
        bytesSent: n => { this.counters.bytesSent += n },
        bytesReceived: n => { this.counters.bytesReceived += n },
        retried: () => { this.counters.retried++; changed() }
      }
    })
    this.gate = new PeerGate({
      shape: init.shape, lookahead: init.settings.lookahead,
      applied: () => this.steps.applied, trackerStep: () => this.#trackerStep,
      // A paused previous-stage tab is out of the heartbeat lists, but its microbatches in flight still come.
      listedPrev: p => this.membership.listed('prev', p) || this.membership.shown(init.stage - 1, p),
      listedNext: p => this.membership.listed('next', p),
      awaits: (mb, p) => { const r = this.router.routes.get(mb); return r != null && (r.sentTo === p || r.earlier.includes(p)) }
    })
  }

  get paused (): boolean { return this.#paused }

  /** Stage 0: the microbatches it holds leases for (granted or in flight), so a closing page can hand them back. */
  get leased (): number[] { return this.#i.isFirst ? [...this.pump.grantedIds, ...this.router.routes.keys()] : [] }

  /** Starts training: serving is the caller's (it routes inbound tensors to `accept`). */
  async start (): Promise<void> {
    await this.sync.start(this.#i.initialParams, this.#i.initialStep)
    this.flow.running = true
    this.#startedAt = this.#i.clock.now()
    this.compute.startIdleClock()
    await this.membership.start()
    const tick = (): void => {
      this.#routeTimer = this.#i.clock.after(this.#i.timings?.routeCheckMs ?? ROUTE_CHECK_MS, () => { if (!this.#stopped) { this.flow.checkRoutes(); tick() } })
    }
    tick()
    if (this.#i.isFirst) this.pump.kick()
  }

  /**
   * An inbound tensor, through the gate first (throws to refuse it; a violator is disconnected and
   * reported); its work continues after. A sender not yet on the tracker's list gets one refresh
   * of the list (a tab that just joined the previous stage), so the returned promise may settle later.
   */
  accept (t: InboundTensor): Promise<void> | undefined {
    if (this.#gated(t)) return undefined
    return (async () => {
      await Promise.all([this.membership.refresh(), this.membership.refreshMembers()])
      if (!this.#gated(t)) throw new UnlistedPeerError(`${t.from} is not listed on stage ${this.#i.stage - 1}`)
    })()
  }

  /** Takes the tensor if the gate lets it in (false: its sender is not listed); throws to refuse. */
  #gated (t: InboundTensor): boolean {
    let g: ReturnType<PeerGate['checkTensor']>
    try {
      g = this.gate.checkTensor(t)
    } catch (err) {
      if (err instanceof GateError && err.violation) this.#violation(t.from, err)
      throw err
    }
    if (g === 'unlisted') return false
    if (g.ahead) void this.membership.refresh() // this tab's last word from the tracker is a few steps old
    const work = this.flow.accept(g.take)
    work?.catch(() => {})
    return true
  }

  /** A peer of this stage asks for weights: only a replica of this stage the tracker knows (throws to refuse). */
  async provideWeights (step: number | 'latest', from: string): Promise<SyncWeights | null> {
    if (!this.flow.running) return null
    try {
      try {
        this.gate.weights(from, step, await this.membership.isStageMember(from))
      } catch (err) {
        if (!(err instanceof StepAheadError)) throw err
        await this.membership.refresh() // our step may lag the tracker's
        this.gate.weights(from, step, true)
      }
    } catch (err) {
      if (err instanceof GateError && err.violation) this.#violation(from, err)
      throw err
    }
    if (step === 'latest') return await this.exportWeights()
    // A peer at step k means step k-1 is over everywhere: catch up (which also snapshots k).
    this.#learnStep(step)
    return await this.sync.snapshot(step)
  }

  async exportWeights (): Promise<SyncWeights> {
    await this.steps.settled()
    return { step: this.steps.applied, params: await this.compute.exclusive('E', async k => await k.exportParams()) }
  }

  /** A peer broke the protocol: never route to it again, nor take anything from it. */
  exclude (peer: string): void { this.picker.exclude(peer); this.gate.ban(peer) }

  /** A gate violation: ban, disconnect and report the peer (once). */
  #violation (peer: string, err: Error): void {
    if (this.gate.isBanned(peer)) return
    this.exclude(peer)
    void this.#i.transport.disconnect?.(peer).catch(() => {})
    if ((PEER_REPORT_REASONS as readonly string[]).includes(err.name)) void this.#i.tracker.report({ offender: peer, reason: err.name as PeerReportReason }).catch(() => {})
    this.#i.events?.violation?.(peer, err)
  }


  /** Stops starting microbatches and hands back those leased ahead; in-flight ones finish. */
  pause (): void { this.#paused = true; void this.pump.releaseGranted(); void this.membership.beat() }
  resume (): void { this.#paused = false; void this.membership.beat(); this.pump.kick() }

  stats (): TabStats {
    const wall = this.#i.clock.now() - this.#startedAt
    const busy = this.compute.busyMs
    const idle = this.compute.idleMs
    const c = this.counters
    return {
      busy_fraction: wall > 0 ? Math.min(1, busy / wall) : 0, idle_wait_fraction: wall > 0 ? Math.min(1, idle / wall) : 0,
      bytes_sent: c.bytesSent, bytes_received: c.bytesReceived, flops: c.flops, microbatches: c.microbatches, retried: c.retried,
      queue: this.compute.queued, paused: this.#paused ? 1 : 0,
      // Raw counters, so a runner can measure any window of the run (not only since the start).
      busy_ms: busy, idle_ms: idle, wall_ms: wall
    }
  }

  /** Stops: gives back leases and the microbatches stage 0 holds, stops timers and the GPU queue. */
  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.flow.running = false
    this.membership.stop()
    if (this.#routeTimer != null) this.#i.clock.cancel(this.#routeTimer)
    await this.pump.stop()
    if (this.#i.isFirst) for (const mb of this.router.routes.keys()) await this.#i.tracker.release(mb).catch(() => {})
    this.compute.stop()
  }

  /** A tracker reply that may name microbatches to shadow (spot-checker.ts), passed on unchanged. */
  #shadowing<T extends { shadows?: number[] }> (reply: T): T {
    this.spot.learnShadows(reply.shadows)
    return reply
  }

  /**
   * Stage 0, after the replica sync of `step` (if any): evaluates those weights when the step
   * evaluates and this is the stage's first replica by PeerId (one per campaign, no tracker call).
   * The next step waits for the validation forwards, not for the rest of their way.
   */
  #evaluateAfter (step: number, sync: Promise<void> | undefined): Promise<void> | undefined {
    if (!this.validation.due(step)) return sync
    const leads = [...this.membership.replicas, this.#i.me].sort()[0] === this.#i.me
    if (!leads) return sync
    return (async () => {
      await sync
      if (this.#stopped) return
      const { sent } = await this.validation.run(step)
      void sent
    })()
  }

  #trackerSaid (step: number): void {
    if (step > this.#trackerStep) this.#trackerStep = step
  }

  #learnStep (step: number): void {
    if (step > this.steps.applied) void this.steps.advanceTo(step)
  }

  /** Joins again (one request however many parts noticed at once). */
  #rejoin (): Promise<void> {
    this.#rejoining ??= (async () => {
      const j = await this.#i.tracker.join({ stage: this.#i.stage, throughput: this.#i.throughput }).catch(() => null)
      if (j != null) { this.membership.replicas = j.replicas; this.#trackerSaid(j.step) }
      // A tracker that forgot this tab also stopped routing to it until its next heartbeat.
      await this.membership.beat()
    })().finally(() => { this.#rejoining = null })
    return this.#rejoining
  }
}
