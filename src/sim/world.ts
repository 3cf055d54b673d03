// The discrete-event swarm simulator. Real parts: the tracker's Coordinator, and each peer's
// SwarmRuntime (stage compute with its 1F1B queue and slots, step clock, replica sync, router,
// lease pump, membership). Simulated: GPU time (log-normal speeds), links (10–200 Mbit/s,
// 20–150 ms RTT), the clock, churn (crashes and clean leaves, replaced by joins) and one tracker
// restart halfway through.
import type { CodecName } from '../codec/codec.ts'
import { codecOf } from '../codec/registry.ts'
import { splitStages, stageFlops, stageParamCount, type GPTConfig } from '../model/config.ts'
import { stageMemory } from '../model/memory.ts'
import { SwarmRuntime } from '../train/swarm/runtime.ts'
import { slotsFor } from '../train/swarm/stage-compute.ts'
import type { TrainingSection } from '../campaign/manifest.ts'
import { SWARM_DEFAULTS, type SwarmSettings } from '../campaign/swarm-settings.ts'
import { VirtualClock } from './virtual-clock.ts'
import { SimNetwork, simSigner } from './network.ts'
import { SimTracker } from './sim-tracker.ts'
import { timedKernels, type SimPeer } from './peer.ts'
import { Rng } from './rng.ts'
import type { StepLoss } from '../protocol/swarm.ts'

/**
 * Heartbeats and route checks every 5 s instead of 2 s: a third of the simulator's events, and
 * still three beats per tracker timeout (15 s). Crashes are noticed up to 3 s later than in tabs.
 */
export const SIM_TIMINGS = { heartbeatMs: 5_000, routeCheckMs: 5_000 }

export interface SimInit {
  peers: number
  stages: number
  hours: number
  /** Share of peers that leave (and are replaced) per hour. */
  churn: number
  seed: number
  config: GPTConfig
  /** Rows and sequence length of a microbatch. */
  B: number
  T: number
  /** Microbatches per optimizer step. @default peers */
  accumulation?: number
  syncEvery?: number
  settings?: Partial<SwarmSettings>
  /** Median GPU speed (FLOP/s) and the log-normal sigma. */
  speedMedian: number
  speedSigma: number
  /** GPU memory a tab gives the activation slots, bytes. */
  activationBudget: number
  /** Bytes per element of activations on the wire. @default 4 (fp32) */
  wireBytes?: number
  /** The campaign's boundary codec: tensors are encoded, signed and decoded as on the real wire, and links carry its size. @default 'fp32' */
  codec?: CodecName
  /** A tracker restart at this fraction of the run (null: none). @default 0.5 */
  restartAt?: number | null
  /** Called with each peer's runtime as it starts (tests trace it). */
  onRuntime?: (p: SimPeer) => void
  /** Called once the world exists, before any peer arrives (attack tests add their own peers). */
  onWorld?: (w: { clock: VirtualClock, net: SimNetwork, tracker: SimTracker }) => void
  /** Called every simulated minute. */
  onProgress?: (s: { simMinutes: number, completed: number, events: number }) => void
}

export interface SimResult {
  utilization: number
  idle_fraction: number
  tokens_per_second: number
  microbatches: { scheduled: number, completed: number, retried: number, lost: number, in_flight: number }
  bytes_per_token_per_boundary: number
  steps: number
  /** The tracker's loss of each closed step, and how many microbatches it averages. */
  losses: StepLoss[]
  recompute_fraction: number
  tracker: { restarts: number, requests: number }
  volunteers: { started: number, crashed: number, left: number }
  slots_per_stage: number[]
  lease_requests_per_microbatch: number
  events: number
  wall_s: number
}

export async function simulate (init: SimInit): Promise<SimResult> {
  const wall0 = performance.now()
  const clock = new VirtualClock()
  const rng = new Rng(init.seed)
  const { config, B, T, stages: S } = init
  const ranges = splitStages(config, S)
  const settings: SwarmSettings = { ...SWARM_DEFAULTS, lookahead: 1, max_slots: 32, ...init.settings }
  const A = init.accumulation ?? init.peers
  const training: TrainingSection = { microbatch: B, accumulation: A, seq_len: T, lr: 1e-3, lr_schedule: 'constant', warmup_steps: 0, steps: 1_000_000, weight_decay: 0, grad_clip: 1, sync_every: init.syncEvery ?? 1, seed: init.seed }
  const flops = ranges.map(r => stageFlops(config, r, B, T))
  const paramBytes = ranges.map(r => 4 * stageParamCount(config, r).total)
  const slots = ranges.map(r => slotsFor(stageMemory(config, r, B, T).activations, init.activationBudget, settings.max_slots))
  const tensorBytes = init.codec != null ? codecOf(init.codec).encodedBytes([B, T, config.d_model]) : B * T * config.d_model * (init.wireBytes ?? 4)
  const stageBytes = ranges.map((_, s) => (s + 1 < S ? tensorBytes : 0) + (s > 0 ? tensorBytes : 0))
  const tracker = new SimTracker(clock, config, { stages: S, accumulation: A, totalSteps: training.steps, stageWork: flops.map(f => f.total), stageBytes, lookahead: settings.lookahead, leaseTimeoutMs: 30 * 60_000 })
  const net = new SimNetwork(clock, tensorBytes)
  const peers: SimPeer[] = []
  init.onWorld?.({ clock, net, tracker })
  const endMs = init.hours * 3600_000
  let nextId = 0

  const spawn = (): SimPeer => {
    const id = `peer${String(nextId++).padStart(5, '0')}`
    const link = { mbps: Math.exp(rng.uniform(Math.log(10), Math.log(200))), rttMs: rng.uniform(20, 150) }
    const p: SimPeer = {
      id, link, speed: init.speedMedian * Math.exp(init.speedSigma * rng.normal()), runtime: null, stage: null,
      joinedAt: clock.now(), leftAt: null, crashed: false, meter: { computeMs: 0, forwardMs: 0 }, final: null,
      endpoint: { id, link, alive: true, upFreeAt: 0, accept: () => { throw Object.assign(new Error('not ready'), { name: 'NotReadyError' }) }, provideWeights: async () => null, weightBytes: 0, bytesSent: 0 }
    }
    peers.push(p)
    net.add(p.endpoint)
    void start(p)
    return p
  }

  const start = async (p: SimPeer): Promise<void> => {
    const client = tracker.clientFor(p.id, p.link.rttMs, () => p.endpoint.alive)
    let joined
    for (;;) {
      if (!p.endpoint.alive) return
      // Volunteers report their GPU's FLOP/s and their measured uplink (bytes/s).
      joined = await client.join({ throughput: p.speed, bandwidth: p.link.mbps * 1e6 / 8 }).catch(() => null)
      if (joined != null) break
      await clock.sleep(1000)
    }
    const s = joined.stage
    p.stage = s
    p.endpoint.weightBytes = paramBytes[s]
    const signer = simSigner(p.id)
    const transport = net.transportFor(p.id, signer)
    const donor = joined.replicas.find(r => r !== p.id)
    if (donor != null) await transport.fetchWeights(donor, 'latest', 0, 10 * 60_000).catch(() => null)
    if (!p.endpoint.alive) return
    const f = flops[s]
    const isFirst = s === 0
    const isLast = s === S - 1
    const runtime = new SwarmRuntime({
      me: p.id, campaign: 'sim', stage: s, stages: S, isFirst, isLast, training, settings, spotCheckRate: 0,
      // The tensors exchanged hold one number (the network charges their real B·T·C size): the gate
      // checks that shape, and a codec encodes them as such.
      shape: [1, 1, 1], ...(init.codec != null ? { codec: init.codec } : {}), flops: { forward: f.forward, backward: f.backward },
      tracker: client, transport, signer, clock, slots: slots[s], initialStep: joined.step, initialParams: new Float32Array(4),
      kernels: timedKernels(clock, p.speed, { forward: f.forward, backward: f.backward, step: 16 * paramBytes[s] / 4 }, isLast, p.meter),
      replicas: joined.replicas, throughput: p.speed, timings: SIM_TIMINGS,
      data: isFirst || isLast ? mb => ({ id: mb, inputs: new Uint32Array([mb]), targets: new Uint32Array([mb]) }) : null
    })
    p.runtime = runtime
    init.onRuntime?.(p)
    p.endpoint.accept = t => runtime.accept(t)
    p.endpoint.provideWeights = async (step, from) => await runtime.provideWeights(step, from)
    await runtime.start()
  }

  const leave = (p: SimPeer, crash: boolean): void => {
    if (p.leftAt != null) return
    p.leftAt = clock.now()
    p.crashed = crash
    const r = p.runtime
    p.final = { idleMs: r?.compute.idleMs ?? 0, recomputes: r?.compute.recomputes ?? 0, microbatches: r?.counters.microbatches ?? 0 }
    if (crash) {
      p.endpoint.alive = false
      void r?.stop()
    } else {
      void (async () => {
        await r?.stop()
        await tracker.clientFor(p.id, p.link.rttMs, () => true).leave().catch(() => {})
        p.endpoint.alive = false
      })()
    }
  }

  for (let i = 0; i < init.peers; i++) {
    // Volunteers arrive over the first minute, not all in one instant.
    clock.after(rng.uniform(0, 60_000), () => { spawn() })
  }
  // Churn: a Poisson process of leaves (half of them crashes), each replaced by a newcomer.
  const rate = init.churn * init.peers / 3600_000
  const churnAt = (t: number): void => {
    if (rate <= 0) return
    const next = t + rng.exponential(rate)
    if (next >= endMs) return
    clock.after(next - clock.now(), () => {
      const alive = peers.filter(p => p.leftAt == null && p.runtime != null)
      if (alive.length > 0) leave(alive[Math.floor(rng.uniform(0, alive.length))], rng.uniform(0, 1) < 0.5)
      clock.after(rng.uniform(5_000, 60_000), () => { spawn() })
      churnAt(clock.now())
    })
  }
  churnAt(60_000)
  const restartAt = init.restartAt === undefined ? 0.5 : init.restartAt
  if (restartAt != null) clock.after(restartAt * endMs, () => { tracker.restart(10_000) })

  for (let m = 1; m * 60_000 <= endMs; m++) {
    await clock.run(m * 60_000)
    init.onProgress?.({ simMinutes: m, completed: tracker.coord.status().microbatches.completed, events: clock.events })
  }

  // ---- the report
  let aliveMs = 0
  let computeMs = 0
  let idleMs = 0
  let recomputeMs = 0
  for (const p of peers) {
    const until = p.leftAt ?? endMs
    aliveMs += until - p.joinedAt
    computeMs += p.meter.computeMs
    const r = p.runtime
    const fin = p.final ?? { idleMs: r?.compute.idleMs ?? 0, recomputes: r?.compute.recomputes ?? 0, microbatches: 0 }
    idleMs += fin.idleMs
    if (p.stage != null && fin.recomputes > 0) recomputeMs += fin.recomputes * flops[p.stage].forward / p.speed * 1000
  }
  const status = tracker.coord.status()
  const completed = status.microbatches.completed
  const tokens = completed * B * T
  const leaseRequests = peers.reduce((n, p) => n + (p.runtime?.pump.requests ?? 0), 0)
  for (const p of peers) if (p.leftAt == null) void p.runtime?.stop()
  await clock.run(endMs + 60_000) // let the stops' tracker calls finish
  return {
    utilization: (computeMs - recomputeMs) / aliveMs,
    idle_fraction: idleMs / aliveMs,
    tokens_per_second: tokens / (endMs / 1000),
    microbatches: status.microbatches,
    bytes_per_token_per_boundary: tokens > 0 ? net.tensorBytesSent / (tokens * (S - 1)) : 0,
    steps: status.step,
    losses: status.losses,
    recompute_fraction: computeMs > 0 ? recomputeMs / computeMs : 0,
    tracker: { restarts: tracker.restarts, requests: tracker.requests },
    volunteers: { started: peers.length, crashed: peers.filter(p => p.crashed).length, left: peers.filter(p => p.leftAt != null && !p.crashed).length },
    slots_per_stage: slots,
    lease_requests_per_microbatch: completed > 0 ? leaseRequests / completed : 0,
    events: clock.events,
    wall_s: (performance.now() - wall0) / 1000
  }
}
