// One volunteer tab in a campaign's swarm: joins, gets a stage, loads its weights, then trains.
//
// The recipe per microbatch (stage s of S):
//   stage 0: lease id → forward(tokens) → send activations to a stage-1 replica → … → gradients
//            come back → backward → report completion with the route's receipts;
//   stage s: activations arrive → forward → send on (or, last: loss → backward) → gradients
//            arrive → backward → send gradients back to whoever sent the activations.
// The GPU holds one microbatch's activations; a backward for another microbatch recomputes its
// forward from the kept input first. Optimizer steps follow the tracker's step counter, learned
// from leases, heartbeats, tensor headers and weight requests, whichever comes first.
import { proxy, type Remote } from 'comlink'
import type { Connection, PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { CampaignManifest } from '../../campaign/manifest.ts'
import { TokenLoader } from '../data.ts'
import type { ComputeApi, Progress } from '../../worker/protocol.ts'
import type { StageRange } from '../../model/config.ts'
import { ownsEmbedding, ownsHead, stageFlops } from '../../model/config.ts'
import { stageLayout } from '../../model/params.ts'
import type { TabLibp2p } from '../../net/tab-node.ts'
import { directConnection, isDirect } from '../../net/tab-node.ts'
import { sendTensor, tensorProtocol, type ReceivedTensor, type TensorProtocol } from '../../net/tensor-stream.ts'
import { fetchWeights, serveWeights, WEIGHTS_PROTOCOL, type Weights, type WeightsRequest } from '../../net/weights.ts'
import { sha256, toHex } from '../../net/byte-stream.ts'
import { countersign, signAsSender, type SenderSignedReceipt, type SignedReceipt } from '../../ledger/receipt.ts'
import { createTrackerClient, TrackerError, type TrackerClient } from './tracker-client.ts'
import { learningRate } from '../schedule.ts'
import { averageParams } from '../replica.ts'
import { ReplicaPicker } from './replica-picker.ts'
import { createLogger } from '../../log.ts'
import { spotCheckIndices } from '../../ledger/spot-checks.ts'

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
  /** Microbatches a stage-0 tab keeps in flight. @default 2 */
  inflight?: number
  /** Called on every state change (the UI's store, the swarm runner's reporter). */
  onUpdate?: (s: SwarmSnapshot) => void
  /** Gradients not back within this are re-routed to another replica. @default 60000 */
  routeTimeoutMs?: number
  /** Time a replica waits for its peers' weights at a sync. @default 20000 */
  syncTimeoutMs?: number
  /** Waits `ms`; a page passes one that hidden tabs do not throttle. @default setTimeout */
  sleep?: (ms: number) => Promise<void>
}

interface Outbound {
  /** Stage 0: the microbatch's tokens. Others: the activations that arrived. */
  input: Float32Array | Uint32Array
  inDigest: string
  /** Who sent us the input (stage > 0), to send gradients back to. */
  from: string | null
  /** Receipts of the route so far, each countersigned. */
  receipts: SignedReceipt[]
  sentTo: string | null
  sentAt: number
  activations: Float32Array | null
  outDigest: string
  attempts: number
}

export class SwarmTab {
  readonly #init: SwarmTabInit
  readonly #tracker: TrackerClient
  readonly #me: string
  #state: SwarmSnapshot
  /** Microbatch windows of the dataset (stage 0 and the last stage only). */
  #data: TokenLoader | undefined
  #protocol: TensorProtocol | undefined
  #running = false
  #stopped = false
  #timers: Array<ReturnType<typeof setInterval>> = []
  /** Microbatches whose forward this tab has done and whose backward it awaits. */
  readonly #routes = new Map<number, Outbound>()
  /** Which microbatch's activations are in the GPU's buffers. */
  #onGpu: number | null = null
  /** GPU work runs one job at a time, in order. */
  #gpuChain: Promise<unknown> = Promise.resolve()
  #gpuQueued = 0
  #accumulated = 0
  readonly #snapshots = new Map<number, Weights>()
  /** Microbatches this replica learned from since its last sync: its weight in the average. */
  #sinceSync = 0
  readonly #snapshotWaiters = new Map<number, Array<() => void>>()
  #picker = new ReplicaPicker()
  #runningSince = 0
  #busyMs = 0
  #idleSince: number | null = null
  #idleMs = 0
  #stepping: Promise<void> = Promise.resolve()
  #warming = false
  /** Share of time the GPU may work (the volunteer's budget), in (0, 1]. */
  #budget = 1
  /** This GPU's measured FLOP/s, sent with every join. */
  #throughput = 0
  /** Digest of the weights this replica holds after the last sync, for spot checks. */
  #weights: { step: number, digest: string } | null = null

  constructor (init: SwarmTabInit) {
    this.#init = init
    this.#me = init.node.peerId.toString()
    this.#tracker = createTrackerClient({ origin: init.origin, campaign: init.campaignId, peerId: this.#me })
    this.#state = {
      phase: 'joining', message: 'Joining the campaign', progress: 0, stage: null, range: null, stages: init.manifest.stages,
      appliedStep: 0, resumed: false, replicas: [], next: [], microbatches: 0, flops: 0, bytesSent: 0, bytesReceived: 0,
      busyFraction: 0, idleWaitFraction: 0, retried: 0, lastLoss: null, error: null
    }
  }

  get snapshot (): SwarmSnapshot { return this.#state }

  /** Stage 0: the leased microbatches it holds, so a closing page can hand them back. */
  get leased (): number[] { return this.#isFirst ? [...this.#routes.keys()] : [] }

  #sleep (ms: number): Promise<void> { return (this.#init.sleep ?? sleep)(ms) }

  #update (patch: Partial<SwarmSnapshot>): void {
    this.#state = { ...this.#state, ...patch }
    this.#init.onUpdate?.(this.#state)
  }

  get #m (): CampaignManifest { return this.#init.manifest }
  get #isFirst (): boolean { return this.#state.range != null && ownsEmbedding(this.#state.range) }
  get #isLast (): boolean { return this.#state.range != null && ownsHead(this.#m.model, this.#state.range) }

  // ---- joining

  async start (): Promise<void> {
    try {
      this.#update({ phase: 'joining', message: 'Measuring this GPU', progress: 0.1 })
      const { flopsPerSecond } = await this.#init.compute.benchmark()
      this.#throughput = flopsPerSecond
      this.#update({ message: 'Asking the tracker for a stage', progress: 0.5 })
      const joined = await this.#tracker.join({ throughput: flopsPerSecond, ...(this.#init.previousStage != null ? { stage: this.#init.previousStage } : {}) })
      const resumed = this.#init.previousStage === joined.stage
      this.#update({ stage: joined.stage, range: joined.range, stages: joined.stages, appliedStep: joined.step, replicas: joined.replicas, resumed, progress: 1 })

      if (this.#isFirst || this.#isLast) {
        this.#update({ phase: 'loading-data', message: `Downloading the dataset (${(this.#m.dataset.bytes / 1024).toFixed(0)} KiB)`, progress: 0 })
        const tokens = await this.#init.loadTokens((loaded, total) => { this.#update({ progress: loaded / total }) })
        this.#data = new TokenLoader(tokens, { B: this.#m.training.microbatch, T: this.#m.training.seq_len, vocab: this.#m.model.vocab })
      }

      const weights = await this.#loadWeights(joined.replicas.filter(p => p !== this.#me), joined.step)
      this.#update({ phase: 'compiling', message: 'Compiling kernels and allocating the stage', progress: 0 })
      const { B, T } = { B: this.#m.training.microbatch, T: this.#m.training.seq_len }
      await this.#init.compute.initStage(
        { config: this.#m.model, range: joined.range, B, T, seed: this.#m.training.seed, ...(weights != null ? { params: weights.params } : {}) },
        // comlink proxies callbacks; a plain function cannot cross to the worker.
        proxy((p: Progress) => { this.#update({ message: p.message, progress: p.fraction }) })
      )
      if (weights != null) this.#update({ appliedStep: Math.max(weights.step, this.#state.appliedStep) })
      this.#weights = { step: this.#state.appliedStep, digest: await digestOf(await this.#init.compute.exportParams()) }

      await this.#serve()
      // Left while starting up (the page navigated away): take back the handlers just registered.
      if (this.#stopped) { await this.#protocol?.stop().catch(() => {}); await this.#init.node.unhandle(WEIGHTS_PROTOCOL).catch(() => {}); return }
      this.#running = true
      this.#runningSince = performance.now()
      this.#idleSince = performance.now()
      this.#update({ phase: 'running', message: this.#isFirst ? 'Training: leasing microbatches' : 'Training: waiting for activations', progress: 1 })
      this.#timers.push(setInterval(() => { void this.#heartbeat() }, 2000))
      await this.#heartbeat()
      if (this.#isFirst) void this.#pump()
      this.#timers.push(setInterval(() => { this.#checkRoutes() }, 2000))
    } catch (err) {
      this.#fail(err)
    }
  }

  /** A live replica's current weights; else the tab's own saved ones; else null (seed init). */
  async #loadWeights (others: string[], step: number): Promise<Weights | null> {
    // Saved at the swarm's current step: as good as a replica's, and no transfer.
    const own = this.#init.savedWeights
    if (own != null && own.step >= step && this.#init.previousStage === this.#state.stage) {
      this.#update({ phase: 'loading-weights', message: `Resuming from this tab's saved weights (step ${own.step})`, progress: 1 })
      return own
    }
    if (others.length === 0) {
      // Saved weights belong to the stage they were saved on; a different stage starts afresh.
      const saved = this.#init.previousStage === this.#state.stage ? this.#init.savedWeights : undefined
      if (saved != null) {
        this.#update({ phase: 'loading-weights', message: `Resuming from this tab's saved weights (step ${saved.step})`, progress: 1 })
        return saved
      }
      this.#update({ phase: 'loading-weights', message: step === 0 ? 'First replica of this stage: starting from the seed' : 'No live replica holds this stage: restarting it from the seed', progress: 1 })
      return null
    }
    const expectElements = await this.#expectedParams()
    for (const peer of others) {
      try {
        this.#update({ phase: 'loading-weights', message: `Fetching this stage's weights from ${peer.slice(-8)}`, progress: 0.2 })
        const conn = await this.#connect(peer)
        const w = await fetchWeights(conn, { campaign: this.#init.campaignId, stage: this.#state.stage!, step: 'latest' }, { expectElements })
        this.#update({ progress: 1, message: `Got the weights of step ${w.step}` })
        return w
      } catch (err) {
        log('weights from', peer, 'failed:', (err as Error).message)
      }
    }
    this.#update({ message: 'No replica answered: starting from the seed' })
    return null
  }

  async #expectedParams (): Promise<number> {
    return stageLayout(this.#m.model, this.#state.range!).totalElements
  }

  async #serve (): Promise<void> {
    const node = this.#init.node
    this.#protocol = await tensorProtocol(node, {
      campaign: this.#init.campaignId,
      maxPayloadBytes: 4 * this.#m.training.microbatch * this.#m.training.seq_len * this.#m.model.d_model,
      onTensor: t => { this.#onTensor(t) },
      onViolation: (peer, err) => {
        log.error(`peer ${peer} broke the tensor protocol (${err.name}); disconnecting it`)
        this.#picker.exclude(peer)
        void node.hangUp(peerIdFromString(peer)).catch(() => {})
      }
    })
    await node.handle(WEIGHTS_PROTOCOL, (stream, conn) => {
      void serveWeights(stream, conn.remotePeer.toString(), { campaign: this.#init.campaignId, provide: async req => await this.#provideWeights(req) })
    }, { runOnLimitedConnection: false })
  }

  // ---- the GPU queue

  #gpu<T> (job: () => Promise<T>): Promise<T> {
    this.#gpuQueued++
    if (this.#idleSince != null) { this.#idleMs += performance.now() - this.#idleSince; this.#idleSince = null }
    const run = this.#gpuChain.then(async () => {
      const t0 = performance.now()
      try {
        return await job()
      } finally {
        const ms = performance.now() - t0
        this.#busyMs += ms
        // GPU budget: rest in proportion, so the GPU works `budget` of the time.
        if (this.#budget < 1) await this.#sleep(ms * (1 - this.#budget) / this.#budget)
        if (--this.#gpuQueued === 0 && this.#running) this.#idleSince = performance.now()
      }
    })
    this.#gpuChain = run.catch(() => {})
    return run
  }

  /** Brings the GPU's saved activations to microbatch `mb` (recomputing its forward if needed). */
  async #ensureOnGpu (mb: number, route: Outbound): Promise<void> {
    if (this.#onGpu === mb) return
    const targets = this.#isLast ? this.#data!.microbatch(mb).targets : undefined
    await this.#init.compute.forward(route.input.slice(), targets)
    this.#onGpu = mb
  }

  // ---- optimizer steps and replica sync

  /** Applies pending optimizer steps up to `target` (the tracker's step counter), in order. */
  #advanceTo (target: number): Promise<void> {
    this.#stepping = this.#stepping.then(async () => {
      while (this.#state.appliedStep < target) {
        const step = this.#state.appliedStep
        const count = this.#accumulated
        this.#accumulated = 0
        this.#sinceSync += count
        if (count > 0) {
          const t = this.#m.training
          await this.#gpu(async () => {
            await this.#init.compute.step({ lr: learningRate(step, { lr: t.lr, schedule: t.lr_schedule, warmupSteps: Math.min(t.warmup_steps, t.steps), totalSteps: t.steps }), weightDecay: t.weight_decay, gradClip: t.grad_clip, gradScale: 1 / count })
            await this.#init.compute.zeroGrad()
          })
        }
        this.#update({ appliedStep: step + 1 })
        if ((step + 1) % this.#m.training.sync_every === 0) await this.#sync(step + 1)
        else this.#weights = null
      }
    })
    return this.#stepping
  }

  /** Averages weights with the other replicas of this stage, each contributing its step-k weights. */
  async #sync (k: number): Promise<void> {
    const own = await this.#gpu(async () => await this.#init.compute.exportParams())
    const mine: Weights = { step: k, params: own, weight: this.#sinceSync }
    this.#sinceSync = 0
    this.#snapshots.set(k, mine)
    for (const old of this.#snapshots.keys()) if (old < k - 1) this.#snapshots.delete(old)
    for (const wake of this.#snapshotWaiters.get(k) ?? []) wake()
    this.#snapshotWaiters.delete(k)
    const others = this.#state.replicas.filter(p => p !== this.#me)
    if (others.length === 0) return
    this.#update({ message: `Averaging weights with ${others.length} replica${others.length === 1 ? '' : 's'} (step ${k})` })
    const got = await Promise.allSettled(others.map(async peer => {
      const conn = await this.#connect(peer)
      return await fetchWeights(conn, { campaign: this.#init.campaignId, stage: this.#state.stage!, step: k }, { expectElements: own.length, signal: AbortSignal.timeout(this.#init.syncTimeoutMs ?? 20_000) })
    }))
    const peers = others.flatMap((peer, i) => { const r = got[i]; return r.status === 'fulfilled' && r.value.step === k ? [{ peer, w: r.value }] : [] })
    let result = own
    if (peers.length > 0) {
      // Sum in PeerId order on every replica, so replicas that synced with each other hold
      // bitwise identical weights (float addition is not associative).
      // Weighted by the microbatches each learned from, so an uneven split of the batch still averages to its full step.
      const all = [...peers, { peer: this.#me, w: mine }].sort((a, b) => a.peer < b.peer ? -1 : 1)
      const avg = averageParams(all.map(a => a.w.params), all.map(a => a.w.weight ?? 1))
      result = avg
      await this.#gpu(async () => { await this.#init.compute.importParams(avg) })
    }
    this.#weights = { step: k, digest: await digestOf(result) }
    this.#update({ message: `Synced with ${peers.length} of ${others.length} replicas at step ${k}` })
  }

  async #provideWeights (req: WeightsRequest): Promise<Weights | null> {
    if (req.stage !== this.#state.stage || !this.#running) return null
    if (req.step === 'latest') {
      await this.#stepping
      return { step: this.#state.appliedStep, params: await this.#gpu(async () => await this.#init.compute.exportParams()) }
    }
    const k = req.step
    // A peer at step k means step k-1 is over everywhere: catch up (which also snapshots k).
    if (k > this.#state.appliedStep) void this.#advanceTo(k)
    const have = this.#snapshots.get(k)
    if (have != null) return have
    await new Promise<void>(resolve => {
      const list = this.#snapshotWaiters.get(k) ?? []
      list.push(resolve)
      this.#snapshotWaiters.set(k, list)
      setTimeout(resolve, this.#init.syncTimeoutMs ?? 20_000)
    })
    return this.#snapshots.get(k) ?? null
  }

  // ---- stage 0: leasing and starting microbatches

  async #pump (): Promise<void> {
    const inflight = this.#init.inflight ?? 2
    while (this.#running && !this.#stopped) {
      if (this.#state.phase === 'paused' || this.#routes.size >= inflight) { await this.#sleep(100); continue }
      // Nobody to hand activations to yet: leasing now would only bounce microbatches back.
      if (!this.#isLast && this.#state.next.length === 0) {
        this.#update({ message: `Waiting for a volunteer on stage ${this.#state.stage! + 2}` })
        await this.#sleep(500)
        continue
      }
      if (this.#state.message.startsWith('Waiting for a volunteer')) this.#update({ message: 'Training: leasing microbatches' })
      let lease
      try {
        lease = await this.#tracker.lease(1)
      } catch (err) {
        if (err instanceof TrackerError && err.status === 409) { await this.#rejoin(); continue }
        await this.#sleep(1000)
        continue
      }
      if (lease.step > this.#state.appliedStep) await this.#advanceTo(lease.step)
      if (lease.leases.length === 0) { await this.#sleep(150); continue }
      for (const { id } of lease.leases) void this.#startMicrobatch(id)
    }
  }

  async #startMicrobatch (mb: number): Promise<void> {
    const { inputs } = this.#data!.microbatch(mb)
    const route: Outbound = { input: inputs, inDigest: toHex(await sha256(new Uint8Array(inputs.buffer))), from: null, receipts: [], sentTo: null, sentAt: 0, activations: null, outDigest: '', attempts: 0 }
    this.#routes.set(mb, route)
    try {
      if (this.#isLast) {
        await this.#trainWhole(mb, route)
        return
      }
      const { output } = await this.#gpu(async () => {
        const r = await this.#init.compute.forward(inputs.slice())
        this.#onGpu = mb
        return r
      })
      route.activations = output!
      this.#addFlops(this.#flops().forward)
      await this.#sendForward(mb, route)
    } catch (err) {
      log('microbatch', mb, 'could not start:', (err as Error).message)
      this.#routes.delete(mb)
      await this.#tracker.release(mb).catch(() => {})
    }
  }

  /** A one-stage campaign: this tab is both ends of the pipeline, so a microbatch never leaves it. */
  async #trainWhole (mb: number, route: Outbound): Promise<void> {
    const { targets } = this.#data!.microbatch(mb)
    const { loss } = await this.#gpu(async () => {
      const f = await this.#init.compute.forward((route.input as Uint32Array).slice(), targets)
      await this.#init.compute.backward()
      this.#onGpu = null
      return f
    })
    this.#accumulated++
    const { forward, backward } = this.#flops()
    this.#addFlops(forward + backward)
    if (loss != null) {
      this.#update({ lastLoss: loss })
      await this.#tracker.loss(mb, loss).catch(() => {})
    }
    this.#routes.delete(mb)
    this.#update({ microbatches: this.#state.microbatches + 1 })
    await this.#tracker.complete(mb, [])
  }

  // ---- sending

  #flops (): { forward: number, backward: number } {
    const f = stageFlops(this.#m.model, this.#state.range!, this.#m.training.microbatch, this.#m.training.seq_len)
    return { forward: f.forward, backward: f.backward }
  }

  #addFlops (n: number): void {
    this.#update({ flops: this.#state.flops + n })
  }

  /** Sends activations to the best next-stage replica, trying others if one fails. */
  async #sendForward (mb: number, route: Outbound): Promise<void> {
    const data = route.activations!
    route.outDigest = toHex(await sha256(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)))
    const tried = new Set<string>()
    for (;;) {
      const to = this.#picker.pick(this.#state.next, tried)
      if (to == null) throw new Error(`no replica of stage ${this.#state.stage! + 1} is reachable`)
      tried.add(to)
      route.attempts++
      if (route.attempts > 1) this.#update({ retried: this.#state.retried + 1 })
      try {
        const receipt = await this.#signHop(mb, 'fwd', this.#flops().forward, route.inDigest, route.outDigest, to)
        const ms = await this.#send(to, mb, 'activations', data, { receipts: [...route.receipts, receipt], ...(this.#spotChecked(mb) ? { spot: 'primary' } : {}) })
        this.#picker.observe(to, ms)
        route.sentTo = to
        route.sentAt = performance.now()
        if (this.#spotChecked(mb)) void this.#sendShadows(mb, data, to)
        return
      } catch (err) {
        log('send to', to, 'failed:', (err as Error).message)
        this.#picker.penalize(to)
      }
    }
  }

  /** Right after a sync, a `spot_check_rate` share of microbatches is run by every next-stage replica. */
  #spotChecked (mb: number): boolean {
    const rate = this.#m.spot_check_rate
    if (rate <= 0 || this.#state.appliedStep % this.#m.training.sync_every !== 0) return false
    return ((Math.imul(mb + 1, 2654435761) >>> 0) / 4294967296) < rate
  }

  /** Copies of a spot-checked microbatch's activations for the other replicas of the next stage. */
  async #sendShadows (mb: number, data: Float32Array, primary: string): Promise<void> {
    for (const to of this.#state.next.filter(p => p !== primary)) {
      try {
        await this.#send(to, mb, 'activations', data, { spot: 'shadow' })
      } catch (err) {
        log('shadow of', mb, 'to', to, 'failed:', (err as Error).message)
      }
    }
  }

  /** Reports the sampled output of a spot-checked microbatch to the tracker, which compares replicas. */
  async #reportSpot (mb: number, output: Float32Array): Promise<void> {
    const w = this.#weights
    if (w == null || w.step !== this.#state.appliedStep) return
    const sample = spotCheckIndices(this.#init.campaignId, mb, this.#state.stage!, output.length).map(i => output[i])
    const r = await this.#tracker.spotcheck({ microbatch: mb, stage: this.#state.stage!, step: w.step, weightsDigest: w.digest, sample }).catch(() => null)
    if (r?.verdicts.some(v => v.peerId === this.#me && v.verdict === 'flagged') === true) {
      this.#update({ message: 'This tab failed a spot check: its outputs disagree with its stage\'s other replicas.' })
    }
  }

  async #sendBackward (mb: number, route: Outbound, dInput: Float32Array, flops: number): Promise<void> {
    const to = route.from!
    const outDigest = toHex(await sha256(new Uint8Array(dInput.buffer, dInput.byteOffset, dInput.byteLength)))
    const receipt = await this.#signHop(mb, 'bwd', flops, route.inDigest, outDigest, to)
    await this.#send(to, mb, 'gradients', dInput, { receipts: [...route.receipts, receipt] })
  }

  /** A direct WebRTC connection to a peer (shared, dialled through the relay when needed). */
  async #connect (peer: string): Promise<Connection> {
    return await directConnection(this.#init.node, this.#init.relayAddrs, peerIdFromString(peer))
  }

  /** This tab's half of a hop's receipt: it signs what it hands `to`. */
  async #signHop (mb: number, direction: 'fwd' | 'bwd', flops: number, inDigest: string, outDigest: string, to: string): Promise<SenderSignedReceipt> {
    return await signAsSender({
      campaign: this.#init.campaignId, microbatch: mb, stage: this.#state.stage!, direction, flops, inDigest, outDigest, from: this.#me, to
    }, this.#init.privateKey)
  }

  /** Sends a (B, T, C) tensor of microbatch `mb` to `to` over a direct connection; resolves with the exchange's ms once acked. */
  async #send (to: string, mb: number, kind: 'activations' | 'gradients', data: Float32Array, meta: unknown): Promise<number> {
    const conn = await this.#connect(to)
    const res = await sendTensor(conn, {
      campaign: this.#init.campaignId, microbatch: mb, routeStep: this.#state.stage!, kind,
      optimizerStep: this.#state.appliedStep, shape: [this.#m.training.microbatch, this.#m.training.seq_len, this.#m.model.d_model],
      data, meta
    })
    this.#update({ bytesSent: this.#state.bytesSent + res.bytes })
    return res.ms
  }

  // ---- receiving

  /** Takes custody of an arriving tensor (the ack goes out when this returns); the work runs after. */
  #onTensor (t: ReceivedTensor): void {
    if (!this.#running) throw Object.assign(new Error('this tab is not training'), { name: 'NotReadyError' })
    if (t.optimizerStep < this.#state.appliedStep && t.kind === 'activations') {
      throw Object.assign(new Error(`activations of step ${t.optimizerStep}, this replica is at ${this.#state.appliedStep}`), { name: 'StaleError' })
    }
    if (!(t.data instanceof Float32Array)) throw Object.assign(new Error('expected f32 data'), { name: 'DTypeError' })
    // Delivery is at least once (a lost ack makes the sender resend): drop a copy we already hold.
    if (t.kind === 'activations' && this.#routes.get(t.microbatch)?.from === t.from) return
    this.#update({ bytesReceived: this.#state.bytesReceived + t.data.byteLength })
    const work = t.kind === 'activations' ? this.#onActivations(t) : this.#onGradients(t)
    work.catch(err => { log('microbatch', t.microbatch, t.kind, 'failed:', (err as Error).message) })
  }

  async #countersignIncoming (t: ReceivedTensor): Promise<SignedReceipt[]> {
    const list = (t.meta as { receipts?: unknown[] } | undefined)?.receipts
    if (!Array.isArray(list) || list.length === 0) throw new Error('tensor carries no receipts')
    const last = list[list.length - 1] as SenderSignedReceipt
    const r = last.receipt
    if (r.from !== t.from || r.to !== this.#me || r.outDigest !== t.sha256 || r.microbatch !== t.microbatch) {
      throw new Error('the hop receipt does not match the tensor that came with it')
    }
    return [...list.slice(0, -1) as SignedReceipt[], await countersign(last, this.#init.privateKey)]
  }

  async #onActivations (t: ReceivedTensor): Promise<void> {
    if (t.optimizerStep > this.#state.appliedStep) await this.#advanceTo(t.optimizerStep)
    const input = t.data as Float32Array
    const spot = (t.meta as { spot?: string } | undefined)?.spot
    if (spot === 'shadow') {
      const targets = this.#isLast ? this.#data!.microbatch(t.microbatch).targets : undefined
      const { output } = await this.#gpu(async () => {
        const r = await this.#init.compute.spotRun(input.slice(), targets)
        this.#onGpu = null
        return r
      })
      await this.#reportSpot(t.microbatch, output)
      return
    }
    const route: Outbound = { input, inDigest: t.sha256, from: t.from, receipts: await this.#countersignIncoming(t), sentTo: null, sentAt: 0, activations: null, outDigest: '', attempts: 0 }
    this.#routes.set(t.microbatch, route)
    const mb = t.microbatch
    if (this.#isLast) {
      const { targets } = this.#data!.microbatch(mb)
      const { loss, dInput } = await this.#gpu(async () => {
        const f = await this.#init.compute.forward(input.slice(), targets)
        this.#onGpu = mb
        const b = await this.#init.compute.backward()
        return { loss: f.loss, dInput: b.dInput }
      })
      this.#accumulated++
      const { forward, backward } = this.#flops()
      this.#addFlops(forward + backward)
      if (loss != null) {
        this.#update({ lastLoss: loss })
        void this.#tracker.loss(mb, loss).catch(() => {})
      }
      this.#routes.delete(mb)
      this.#update({ microbatches: this.#state.microbatches + 1 })
      if (spot === 'primary') void this.#reportSpot(mb, dInput!)
      await this.#sendBackward(mb, route, dInput!, forward + backward)
      return
    }
    const { output } = await this.#gpu(async () => {
      const r = await this.#init.compute.forward(input.slice())
      this.#onGpu = mb
      return r
    })
    route.activations = output!
    this.#addFlops(this.#flops().forward)
    if (spot === 'primary') void this.#reportSpot(mb, output!)
    await this.#sendForward(mb, route)
  }

  async #onGradients (t: ReceivedTensor): Promise<void> {
    const mb = t.microbatch
    const route = this.#routes.get(mb)
    // A late answer from a replica we already re-routed away from: ignore it.
    if (route == null || route.sentTo !== t.from) return
    route.receipts = await this.#countersignIncoming(t)
    this.#routes.delete(mb)
    const dOut = t.data as Float32Array
    const { dInput } = await this.#gpu(async () => {
      await this.#ensureOnGpu(mb, route)
      const b = await this.#init.compute.backward(dOut)
      this.#onGpu = null
      return b
    })
    this.#accumulated++
    this.#addFlops(this.#flops().backward)
    this.#update({ microbatches: this.#state.microbatches + 1 })
    if (this.#isFirst) {
      try {
        await this.#tracker.complete(mb, route.receipts)
      } catch (err) {
        // Refused (or unreachable): hand the lease back so the microbatch runs again now, not after the lease times out.
        log.error('completion of microbatch', mb, 'refused:', (err as Error).message)
        this.#update({ retried: this.#state.retried + 1 })
        await this.#tracker.release(mb).catch(() => {})
      }
      return
    }
    await this.#sendBackward(mb, route, dInput!, this.#flops().backward)
  }

  /** Stage 0 re-routes microbatches whose receiver went away or never answered. */
  #checkRoutes (): void {
    if (!this.#isFirst || !this.#running) return
    const timeout = this.#init.routeTimeoutMs ?? 60_000
    for (const [mb, route] of this.#routes) {
      if (route.sentTo == null || route.activations == null) continue
      // Gone from the tracker's list, or its connection closed (a reloaded tab keeps its PeerId but lost our work).
      const gone = !this.#state.next.includes(route.sentTo) ||
        !this.#init.node.getConnections(peerIdFromString(route.sentTo)).some(c => c.status === 'open' && isDirect(c))
      if (gone || performance.now() - route.sentAt > timeout) {
        const dead = route.sentTo
        route.sentTo = null
        this.#picker.penalize(dead)
        log(`re-routing microbatch ${mb}: ${dead} ${gone ? 'left' : 'timed out'}`)
        this.#sendForward(mb, route).catch(async () => {
          this.#routes.delete(mb)
          await this.#tracker.release(mb).catch(() => {})
        })
      }
    }
  }

  // ---- heartbeat, pause, leave

  async #heartbeat (): Promise<void> {
    if (this.#stopped) return
    const wall = performance.now() - this.#runningSince
    const idle = this.#idleMs + (this.#idleSince != null ? performance.now() - this.#idleSince : 0)
    const busyFraction = wall > 0 ? Math.min(1, this.#busyMs / wall) : 0
    const idleWaitFraction = wall > 0 ? Math.min(1, idle / wall) : 0
    this.#update({ busyFraction, idleWaitFraction })
    try {
      const r = await this.#tracker.heartbeat({
        busy_fraction: busyFraction, idle_wait_fraction: idleWaitFraction, bytes_sent: this.#state.bytesSent, bytes_received: this.#state.bytesReceived,
        flops: this.#state.flops, microbatches: this.#state.microbatches, retried: this.#state.retried, queue: this.#gpuQueued,
        paused: this.#state.phase === 'paused' ? 1 : 0,
        // Raw counters, so a runner can measure any window of the run (not only since the start).
        busy_ms: this.#busyMs, idle_ms: idle, wall_ms: wall
      })
      this.#update({ replicas: r.replicas, next: r.next.filter(p => !this.#picker.isExcluded(p)) })
      this.#warmConnections()
      if (r.excluded && this.#state.phase === 'running') {
        this.#update({ phase: 'error', error: 'The tracker excluded this tab: its results failed a spot check against its stage\'s other replicas, so its work is not credited.' })
      }
      if (r.step > this.#state.appliedStep && this.#routes.size === 0) void this.#advanceTo(r.step)
      if (r.done && this.#state.phase === 'running') this.#update({ phase: 'done', message: 'The campaign reached its last step. Thank you!' })
    } catch (err) {
      if (err instanceof TrackerError && err.status === 409) await this.#rejoin()
    }
  }

  /** Dials next-stage replicas and stage peers ahead of need, one at a time, so no microbatch waits on a cold dial. */
  #warmConnections (): void {
    if (this.#warming) return
    const peers = [...new Set([...this.#state.next, ...this.#state.replicas])].filter(p => p !== this.#me)
    this.#warming = true
    void (async () => {
      for (const p of peers) {
        if (this.#stopped) break
        await this.#connect(p).catch(() => {})
      }
    })().finally(() => { this.#warming = false })
  }


  async #rejoin (): Promise<void> {
    const j = await this.#tracker.join({ stage: this.#state.stage!, throughput: this.#throughput }).catch(() => null)
    if (j != null) this.#update({ replicas: j.replicas })
  }

  /** Stops taking new work: stage 0 stops leasing, and the tracker stops routing to this tab. In-flight microbatches finish. */
  pause (reason = 'Paused'): void {
    if (this.#state.phase !== 'running') return
    this.#update({ phase: 'paused', message: `${reason}: finishing the microbatches in flight` })
    void this.#heartbeat()
  }

  resume (): void {
    if (this.#state.phase !== 'paused') return
    this.#update({ phase: 'running', message: 'Training' })
    void this.#heartbeat()
  }

  /** The share of time this tab's GPU may work: 0.25, 0.5 or 1 in the UI. */
  setBudget (fraction: number): void {
    this.#budget = Math.min(1, Math.max(0.05, fraction))
  }

  /** Current weights and step, to save locally. */
  async exportWeights (): Promise<Weights> {
    await this.#stepping
    return { step: this.#state.appliedStep, params: await this.#gpu(async () => await this.#init.compute.exportParams()) }
  }

  /** Leaves cleanly: gives leased microbatches back and tells the tracker. */
  async leave (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#running = false
    for (const t of this.#timers) clearInterval(t)
    if (this.#isFirst) for (const mb of this.#routes.keys()) await this.#tracker.release(mb).catch(() => {})
    await this.#tracker.leave().catch(() => {})
    await this.#protocol?.stop().catch(() => {})
    await this.#init.node.unhandle(WEIGHTS_PROTOCOL).catch(() => {})
    this.#update({ phase: 'left', message: 'Left the campaign' })
  }

  #fail (err: unknown): void {
    log.error('swarm tab failed:', err)
    this.#running = false
    for (const t of this.#timers) clearInterval(t)
    this.#update({ phase: 'error', error: (err as Error).message, message: (err as Error).message })
  }
}

async function digestOf (params: Float32Array): Promise<string> {
  return toHex(await sha256(new Uint8Array(params.buffer, params.byteOffset, params.byteLength)))
}

function sleep (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}

