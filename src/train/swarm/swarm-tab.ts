// One volunteer tab in a campaign's swarm: the browser's composition root. It joins, gets a
// stage, loads the data and the stage's weights, compiles the kernels, then builds the swarm
// runtime (runtime.ts) from the compute worker, libp2p and the tracker's HTTP API, and keeps the
// snapshot the UI shows. How a microbatch flows is in stage-flow.ts; the schedule in
// stage-compute.ts (1F1B over K activation slots) and lease-pump.ts (leases granted ahead).
import { proxy, type Remote } from 'comlink'
import type { PrivateKey } from '@libp2p/interface'
import type { CampaignManifest } from '../../campaign/manifest.ts'
import { swarmSettingsOf } from '../../campaign/swarm-settings.ts'
import { codecSettingsOf } from '../../campaign/codec-settings.ts'
import { datasetSplits } from '../../campaign/dataset.ts'
import { TokenLoader } from '../data.ts'
import type { ComputeApi, Progress } from '../../worker/protocol.ts'
import type { StageRange } from '../../model/config.ts'
import { ownsEmbedding, ownsHead, stageFlops } from '../../model/config.ts'
import { stageLayout } from '../../model/params.ts'
import { stageMemory } from '../../model/memory.ts'
import type { TabLibp2p } from '../../net/tab-node.ts'
import type { Weights } from '../../net/weights.ts'
import { ValidationSet } from '../evaluate.ts'
import { fetchSeedShard } from './seed-client.ts'
import { createTrackerClient, type HttpTrackerClient } from './tracker-client.ts'
import { createSignedFetch, type SignedFetch } from './signed-fetch.ts'
import { createKeySigner, createLibp2pTransport, type Libp2pTransport } from './libp2p-transport.ts'
import type { HopSigner } from './transport.ts'
import type { SenderSignedReceipt, SignedReceipt } from '../../ledger/receipt.ts'
import { SwarmRuntime, type RuntimeTimings } from './runtime.ts'
import { slotsFor, type StageKernels } from './stage-compute.ts'
import { clockWithSleep, systemClock } from './clock.ts'
import { ACTIVATION_BUDGET_BYTES } from './constants.ts'
import { modelFlopUtilization } from '../../gpu/mfu.ts'
import { createLogger } from '../../log.ts'

const log = createLogger('tabgrad:swarm')

export type SwarmPhase = 'joining' | 'loading-data' | 'loading-weights' | 'compiling' | 'running' | 'paused' | 'done' | 'left' | 'error'

export interface SwarmSnapshot {
  phase: SwarmPhase
  message: string
  /** 0..1 within the current phase, where it is known. */
  progress: number
  stage: number | null
  range: StageRange | null
  stages: number
  appliedStep: number
  resumed: boolean
  replicas: string[]
  next: string[]
  microbatches: number
  flops: number
  bytesSent: number
  bytesReceived: number
  busyFraction: number
  idleWaitFraction: number
  retried: number
  lastLoss: number | null
  error: string | null
  /** Activation slots this stage keeps (microbatches between forward and backward). */
  slots: number
  /** This GPU's matmul FLOP/s in the preflight benchmark: the peak MFU is measured against. */
  peakFlopsPerSecond: number | null
  /** Model FLOP utilization since training started (gpu/mfu.ts), null until known. */
  mfu: number | null
}

export interface SwarmTabInit {
  campaignId: string
  manifest: CampaignManifest
  /** The tracker's origin. */
  origin: string
  node: TabLibp2p
  relayAddrs: string[]
  compute: Remote<ComputeApi>
  /** The tab's libp2p key: it signs work receipts. */
  privateKey: PrivateKey
  /** Loads the dataset's tokens (stage 0 and the last stage need them). */
  loadTokens: (onProgress: (loaded: number, total: number) => void) => Promise<Uint32Array>
  /** The stage this tab trained before (kept in IndexedDB), to resume it. */
  previousStage?: number
  /** Weights saved locally for `previousStage`, used when no live replica can give newer ones. */
  savedWeights?: Weights
  /** Called on every state change (the UI's store, the swarm runner's reporter). */
  onUpdate?: (s: SwarmSnapshot) => void
  /** Every hop receipt this tab signs as sender or countersigns as receiver (the app keeps them). @default none */
  onReceipt?: (r: SenderSignedReceipt | SignedReceipt) => void
  /** Timings of the runtime (tests shorten them). @default constants.ts */
  timings?: RuntimeTimings
  /** Waits `ms`; a page passes one that hidden tabs do not throttle. @default setTimeout */
  sleep?: (ms: number) => Promise<void>
  /** Numbers every heartbeat adds about this volunteer (a headless one sends `headless: 1`). @default none */
  agentStats?: Record<string, number>
}

/** The kernels of the compute worker, as the runtime's stage compute calls them. */
function workerKernels (api: Remote<ComputeApi>): StageKernels {
  return {
    forward: async (input, targets, slot) => await api.forward(input, targets, slot),
    backward: async (dOutput, slot) => await api.backward(dOutput, slot),
    step: async opts => await api.step(opts),
    zeroGrad: async () => { await api.zeroGrad() },
    spotRun: async (input, targets, slot) => await api.spotRun(input, targets, slot),
    exportParams: async () => await api.exportParams(),
    importParams: async p => { await api.importParams(p) }
  }
}

/** The tracker client, with `extra` added to every heartbeat's stats. */
function withAgentStats (tracker: HttpTrackerClient, extra: Record<string, number> | undefined): HttpTrackerClient {
  if (extra == null) return tracker
  return { ...tracker, heartbeat: async stats => await tracker.heartbeat({ ...stats, ...extra }) }
}

export class SwarmTab {
  readonly #init: SwarmTabInit
  readonly #tracker: HttpTrackerClient
  /** Signed calls on the tracker's clock, shared by the swarm client and the seed download. */
  readonly #signed: SignedFetch
  readonly #me: string
  #state: SwarmSnapshot
  #runtime: SwarmRuntime | null = null
  /** When the runtime started (performance.now()): MFU counts from there, not from the download and compile. */
  #trainingSince: number | null = null
  #transport: Libp2pTransport | null = null
  #budget = 1
  #left = false

  constructor (init: SwarmTabInit) {
    this.#init = init
    this.#me = init.node.peerId.toString()
    this.#signed = createSignedFetch({ peerId: this.#me, privateKey: init.privateKey })
    this.#tracker = withAgentStats(createTrackerClient({ origin: init.origin, campaign: init.campaignId, peerId: this.#me, privateKey: init.privateKey, signed: this.#signed }), init.agentStats)
    this.#state = {
      phase: 'joining', message: 'Joining the campaign', progress: 0, stage: null, range: null, stages: init.manifest.stages,
      appliedStep: 0, resumed: false, replicas: [], next: [], microbatches: 0, flops: 0, bytesSent: 0, bytesReceived: 0,
      busyFraction: 0, idleWaitFraction: 0, retried: 0, lastLoss: null, error: null, slots: 1, peakFlopsPerSecond: null, mfu: null
    }
  }

  get snapshot (): SwarmSnapshot { return this.#state }

  /** Stage 0: the leased microbatches it holds, so a closing page can hand them back. */
  get leased (): number[] { return this.#runtime?.leased ?? [] }

  /** A closing page: tells the tracker this tab left (its leases go back to the pool) without waiting. */
  leaveOnUnload (): void {
    if (!this.#left) this.#tracker.leaveOnUnload()
  }

  #update (patch: Partial<SwarmSnapshot>): void {
    this.#state = { ...this.#state, ...patch }
    this.#init.onUpdate?.(this.#state)
  }

  /** Joins, loads, compiles, then trains until it leaves. Failures end in phase 'error'. */
  async start (): Promise<void> {
    try {
      const m = this.#init.manifest
      const { microbatch: B, seq_len: T } = m.training
      this.#update({ phase: 'joining', message: 'Measuring this GPU', progress: 0.1 })
      const { flopsPerSecond } = await this.#init.compute.benchmark()
      this.#update({ peakFlopsPerSecond: flopsPerSecond })
      this.#update({ message: 'Asking the tracker for a stage', progress: 0.5 })
      const joined = await this.#tracker.join({ throughput: flopsPerSecond, ...(this.#init.previousStage != null ? { stage: this.#init.previousStage } : {}) })
      const range = joined.range
      const isFirst = ownsEmbedding(range)
      const isLast = ownsHead(m.model, range)
      this.#update({ stage: joined.stage, range, stages: joined.stages, appliedStep: joined.step, replicas: joined.replicas, resumed: this.#init.previousStage === joined.stage, progress: 1 })

      let data: TokenLoader | null = null
      let validation: ValidationSet | null = null
      if (isFirst || isLast) {
        this.#update({ phase: 'loading-data', message: `Downloading the dataset (${(m.dataset.bytes / 1024).toFixed(0)} KiB)`, progress: 0 })
        const tokens = await this.#init.loadTokens((loaded, total) => { this.#update({ progress: loaded / total }) })
        // Held-out tokens (dataset.validation_tokens) are never trained on.
        const splits = datasetSplits(tokens, m.dataset)
        data = new TokenLoader(splits.train, { B, T, vocab: m.model.vocab })
        // They are scored through the swarm after the steps that evaluate (validation-pass.ts).
        if (splits.validation != null) validation = new ValidationSet(splits.validation, { B, T })
      }

      const shape: [number, number, number] = [B, T, m.model.d_model]
      const transport = createLibp2pTransport({ node: this.#init.node, relayAddrs: this.#init.relayAddrs, campaign: this.#init.campaignId, stage: joined.stage, shape })
      this.#transport = transport
      const weights = await this.#loadWeights(transport, joined.replicas.filter(p => p !== this.#me), joined.step, stageLayout(m.model, range).totalElements)

      const settings = swarmSettingsOf(m)
      const slots = slotsFor(stageMemory(m.model, range, B, T).activations, ACTIVATION_BUDGET_BYTES, settings.max_slots)
      this.#update({ phase: 'compiling', message: 'Compiling kernels and allocating the stage', progress: 0, slots })
      await this.#init.compute.initStage(
        { config: m.model, range, B, T, seed: m.training.seed, slots, ...(weights != null ? { params: weights.params } : {}) },
        // comlink proxies callbacks; a plain function cannot cross to the worker.
        proxy((p: Progress) => { this.#update({ message: p.message, progress: p.fraction }) })
      )
      const step = Math.max(weights?.step ?? 0, joined.step)
      this.#update({ appliedStep: step })
      const f = stageFlops(m.model, range, B, T)
      const runtime = new SwarmRuntime({
        me: this.#me, campaign: this.#init.campaignId, stage: joined.stage, stages: joined.stages, isFirst, isLast,
        training: m.training, settings, spotCheckRate: m.spot_check_rate, shape, codec: codecSettingsOf(m).name, flops: { forward: f.forward, backward: f.backward },
        tracker: this.#tracker, transport, signer: tapReceipts(createKeySigner(this.#init.campaignId, this.#me, this.#init.privateKey), this.#init.onReceipt),
        kernels: workerKernels(this.#init.compute), clock: this.#init.sleep != null ? clockWithSleep(this.#init.sleep) : systemClock, slots, initialStep: step,
        initialParams: await this.#init.compute.exportParams(), replicas: joined.replicas, throughput: flopsPerSecond,
        data: data != null ? id => data.microbatch(id) : null,
        validation,
        ...(this.#init.timings != null ? { timings: this.#init.timings } : {}),
        events: {
          changed: () => { this.#sync() },
          message: text => { this.#update({ message: text }) },
          flagged: () => { this.#update({ message: 'This tab failed a spot check: its outputs disagree with its stage\'s other replicas.' }) },
          excluded: () => {
            if (this.#state.phase === 'running') this.#update({ phase: 'error', error: 'The tracker excluded this tab: its results failed a spot check against its stage\'s other replicas, or it left three spot checks unanswered, so its work is not credited.' })
          },
          done: () => { if (this.#state.phase === 'running') this.#update({ phase: 'done', message: 'The campaign reached its last step. Thank you!' }) }
        }
      })
      runtime.compute.setBudget(this.#budget)
      this.#runtime = runtime
      this.#trainingSince = performance.now()
      await transport.serve({
        maxPayloadBytes: 4 * B * T * m.model.d_model,
        onTensor: t => runtime.accept(t),
        onViolation: (peer, err) => {
          log.error(`peer ${peer} broke the tensor protocol (${err.name}); disconnecting it`)
          runtime.exclude(peer)
        },
        provideWeights: async (req, from) => req.stage === joined.stage ? await runtime.provideWeights(req.step, from) : null
      })
      // Left while starting up (the page navigated away): take back the handlers just registered.
      if (this.#left) { await runtime.stop(); await transport.stop(); return }
      this.#update({ phase: 'running', message: isFirst ? 'Training: leasing microbatches' : 'Training: waiting for activations', progress: 1 })
      await runtime.start()
    } catch (err) {
      this.#fail(err)
    }
  }

  /** A live replica's current weights; else the tab's own saved ones; else null (seed init). */
  async #loadWeights (transport: Libp2pTransport, others: string[], step: number, expectElements: number): Promise<Weights | null> {
    // Saved weights belong to the stage they were saved on; a different stage starts afresh.
    const saved = this.#init.previousStage === this.#state.stage ? this.#init.savedWeights : undefined
    // Saved at the swarm's current step: as good as a replica's, and no transfer.
    if (saved != null && saved.step >= step) {
      this.#update({ phase: 'loading-weights', message: `Resuming from this tab's saved weights (step ${saved.step})`, progress: 1 })
      return saved
    }
    if (others.length === 0) {
      if (saved != null) {
        this.#update({ phase: 'loading-weights', message: `Resuming from this tab's saved weights (step ${saved.step})`, progress: 1 })
        return saved
      }
      this.#update({ phase: 'loading-weights', message: step === 0 ? 'First replica of this stage: starting from the seed' : 'No live replica holds this stage: restarting it from the seed', progress: 1 })
      return await this.#seedWeights(step)
    }
    for (const peer of others) {
      try {
        this.#update({ phase: 'loading-weights', message: `Fetching this stage's weights from ${peer.slice(-8)}`, progress: 0.2 })
        const w = await transport.fetchWeights(peer, 'latest', expectElements, 60_000)
        this.#update({ progress: 1, message: `Got the weights of step ${w.step}` })
        return w
      } catch (err) {
        log('weights from', peer, 'failed:', (err as Error).message)
      }
    }
    this.#update({ message: 'No replica answered: starting from the seed' })
    return await this.#seedWeights(step)
  }
  /**
   * A fine-tuning campaign's stage starts from the researcher's checkpoint (its shard, fetched from
   * the tracker); any other starts from the seed's deterministic init (null).
   */
  async #seedWeights (step: number): Promise<Weights | null> {
    const m = this.#init.manifest
    const range = this.#state.range
    if (m.init == null || range == null) return null
    this.#update({ phase: 'loading-weights', message: "Downloading this stage's part of the campaign's checkpoint", progress: 0 })
    const params = await fetchSeedShard({
      origin: this.#init.origin, campaign: this.#init.campaignId, peerId: this.#me, privateKey: this.#init.privateKey, signed: this.#signed, config: m.model, range,
      onProgress: (loaded, total) => { this.#update({ progress: loaded / total }) }
    })
    this.#update({ message: `Starting from the campaign's checkpoint (${(params.byteLength / 1048576).toFixed(1)} MiB for this stage)`, progress: 1 })
    return { step, params }
  }


  /** Copies the runtime's counters into the snapshot. */
  #sync (): void {
    const r = this.#runtime
    if (r == null) return
    const c = r.counters
    const s = r.stats()
    const st = this.#state
    const waiting = st.phase === 'running' && st.stage != null && st.stage + 1 < st.stages && r.membership.next.length === 0
    this.#update({
      ...(waiting ? { message: `Waiting for a volunteer on stage ${st.stage! + 2}` } : {}),
      appliedStep: r.steps.applied, replicas: r.membership.replicas, next: r.membership.next, microbatches: c.microbatches, flops: c.flops,
      bytesSent: c.bytesSent, bytesReceived: c.bytesReceived, retried: c.retried, lastLoss: c.lastLoss,
      busyFraction: s.busy_fraction ?? 0, idleWaitFraction: s.idle_wait_fraction ?? 0,
      mfu: this.#trainingSince == null ? null : modelFlopUtilization(c.flops, (performance.now() - this.#trainingSince) / 1000, st.peakFlopsPerSecond)
    })
  }

  /** Stops taking new work: stage 0 stops leasing, and the tracker stops routing to this tab. In-flight microbatches finish. */
  pause (reason = 'Paused'): void {
    if (this.#state.phase !== 'running') return
    this.#update({ phase: 'paused', message: `${reason}: finishing the microbatches in flight` })
    this.#runtime?.pause()
  }

  resume (): void {
    if (this.#state.phase !== 'paused') return
    this.#update({ phase: 'running', message: 'Training' })
    this.#runtime?.resume()
  }

  /** The share of time this tab's GPU may work: 0.25, 0.5 or 1 in the UI. */
  setBudget (fraction: number): void {
    this.#budget = fraction
    this.#runtime?.compute.setBudget(fraction)
  }

  /** Current weights and step, to save locally. */
  async exportWeights (): Promise<Weights> {
    if (this.#runtime == null) throw new Error('this tab is not training yet')
    return await this.#runtime.exportWeights()
  }

  /** Leaves cleanly: gives leased microbatches back and tells the tracker. */
  async leave (): Promise<void> {
    if (this.#left) return
    this.#left = true
    await this.#runtime?.stop()
    await this.#tracker.leave().catch(() => {})
    await this.#transport?.stop()
    this.#update({ phase: 'left', message: 'Left the campaign' })
  }

  #fail (err: unknown): void {
    if (this.#left) return // a start cut short by leave() ends 'left', not 'error'
    log.error('swarm tab failed:', err)
    void this.#runtime?.stop()
    this.#update({ phase: 'error', error: (err as Error).message, message: (err as Error).message })
  }
}

/** The composition root as a factory (the app may also `new SwarmTab(init)`). */
export function createSwarmTab (init: SwarmTabInit): SwarmTab {
  return new SwarmTab(init)
}

/** The signer, telling `onReceipt` of each receipt it signs; a failing listener never fails a hop. */
function tapReceipts (signer: HopSigner, onReceipt: ((r: SenderSignedReceipt | SignedReceipt) => void) | undefined): HopSigner {
  if (onReceipt == null) return signer
  const tell = <R extends SenderSignedReceipt>(r: R): R => {
    try { onReceipt(r) } catch (err) { log.error('onReceipt failed:', err) }
    return r
  }
  return { ...signer, sign: async hop => tell(await signer.sign(hop)), countersign: async r => tell(await signer.countersign(r)) }
}
