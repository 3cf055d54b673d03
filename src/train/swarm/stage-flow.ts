// The swarm side of the microbatch recipe (../microbatch.ts): tensors arrive from peers, the
// stage computes on its GPU queue, results go on through the router, and every hop is signed.
// Stage 0 starts leased microbatches and reports their completion, whose reply brings the next
// leases. Nothing here advances the optimizer step except through the StepClock.
import { inPostSyncStep, type CompleteReply } from '../../protocol/swarm.ts'
import type { SignedReceipt, SenderSignedReceipt } from '../../ledger/receipt.ts'
import { backwardMicrobatch, forwardMicrobatch, type StageOps, type StageTransport } from '../microbatch.ts'
import type { Microbatch } from '../data.ts'
import type { StageCompute } from './stage-compute.ts'
import type { StepClock } from './step-clock.ts'
import type { Router, Route } from './router.ts'
import type { SpotChecker } from './spot-checker.ts'
import type { HopSigner, InboundTensor, TensorMeta, TensorTransport } from './transport.ts'
import type { BoundaryEncoder } from '../../codec/boundary.ts'
import { DTypeError, DuplicateError, NoReplicaError, NotReadyError, ReceiptMismatchError, StaleError } from './errors.ts'
import type { ValidationPass } from './validation-pass.ts'
import { createLogger } from '../../log.ts'

const log = createLogger('tabgrad:swarm')

export interface StageFlowInit {
  me: string
  stage: number
  isFirst: boolean
  isLast: boolean
  /** FLOPs of this stage's forward and backward of one microbatch (receipts, counters). */
  flops: { forward: number, backward: number }
  /** Steps a sender's weights may lag this replica's (the campaign's lookahead). */
  lookahead: number
  /** Replica sync period (steps): outputs of a step right after a sync are committed for spot checks. */
  syncEvery: number
  /** Microbatches per step: microbatch `mb` belongs to step ⌊mb / accumulation⌋. */
  accumulation: number
  /** (B, T, C): the shape of activations and gradients. */
  shape: [number, number, number]
  compute: StageCompute
  clock: StepClock
  router: Router
  spot: SpotChecker
  signer: HopSigner
  transport: TensorTransport
  /** The campaign's boundary codec: what is sent, and signed, is its encoding. */
  encoder: BoundaryEncoder
  /** Tokens and targets of a microbatch id (stage 0 and the last stage). */
  data: ((mb: number) => Microbatch) | null
  /** Stage 0: the tracker's completion (with the last stage's loss, when it came back) and release calls. */
  complete: (mb: number, receipts: SignedReceipt[], window: number, loss?: number) => Promise<CompleteReply>
  /** A completion failed (tracker restarting, or it forgot this tab): true after rejoining or backing off, to retry. */
  retryCompletion: (err: unknown, attempt: number) => Promise<boolean>
  release: (mb: number) => Promise<void>
  /** Leases to ask for in a completion reply. */
  window: () => number
  /** Stage 0's lease pump: a completion's reply brings the next leases. */
  leases: { expect(): void, reply(r: CompleteReply): void, settle(): void }
  /** Weights the spot checker may vouch for (null while they moved on since a sync). */
  syncedWeights: () => { step: number, digest: string } | null
  /** Live replicas of the next stage. */
  next: () => string[]
  /** Validation batches passing through (validation-pass.ts). */
  validation: Pick<ValidationPass, 'onBatch'>
  events: StageFlowEvents
}

export interface StageFlowEvents {
  microbatchDone: (flops: number) => void
  flops: (n: number) => void
  loss: (mb: number, loss: number) => void
  bytesSent: (n: number) => void
  bytesReceived: (n: number) => void
  retried: () => void
}

export class StageFlow {
  readonly #i: StageFlowInit
  running = false
  /** last stage: d(input) of the microbatch whose forward+backward just ran, for the recipe's backward(). */
  readonly #lastDInput = new Map<number, Float32Array | null>()

  constructor (init: StageFlowInit) { this.#i = init }

  // ---- the recipe's view of this stage

  #ops (route: Route): StageOps {
    const { compute, isFirst, isLast } = this.#i
    const targets = (mb: number): Uint32Array | undefined => isLast ? this.#i.data!(mb).targets : undefined
    return {
      isFirst,
      isLast,
      forward: async (mb, input) => {
        if (!isLast) {
          const f = await compute.forward(mb, input)
          this.#i.events.flops(this.#i.flops.forward)
          return f
        }
        const r = await compute.forwardBackward(mb, input, targets(mb)!)
        this.#lastDInput.set(mb, r.dInput)
        if (r.loss != null) route.loss = r.loss // goes back with the gradients
        return { output: null, loss: r.loss }
      },
      backward: async (mb, dOutput) => {
        let dInput: Float32Array | null
        if (isLast) {
          dInput = this.#lastDInput.get(mb) ?? null
          this.#lastDInput.delete(mb)
        } else {
          dInput = await compute.backward(mb, dOutput, { input: route.input, targets: targets(mb) })
        }
        this.#i.clock.accumulate()
        const flops = isLast ? this.#i.flops.forward + this.#i.flops.backward : this.#i.flops.backward
        this.#i.events.microbatchDone(flops)
        return dInput
      }
    }
  }

  #io (route: Route): StageTransport {
    return {
      sendActivations: async (mb, x) => {
        route.activations = x
        route.outDigest = await this.#i.signer.digest(this.#i.encoder.encode('activations', mb, x).payload)
        // The commitment goes out beside the send, never awaited: the forward path waits on no tracker call.
        void this.#audit(mb, x)
        const primary = await this.#i.router.forward(mb, route)
        // The tracker told this tab ahead of time (lease or heartbeat) that the next stage is checked on `mb`.
        if (this.#i.spot.shadows(mb)) void this.#i.spot.sendShadows(mb, x, primary, this.#i.next())
      },
      sendGradients: async (mb, dx) => {
        const to = route.from!
        const outDigest = await this.#i.signer.digest(this.#i.encoder.encode('gradients', mb, dx).payload)
        const receipt = await this.#sign(mb, 'bwd', this.#i.isLast ? this.#i.flops.forward + this.#i.flops.backward : this.#i.flops.backward, route.inDigest, outDigest, to)
        // The last stage's output is the gradient of its input: that is what it commits to.
        if (this.#i.isLast) void this.#audit(mb, dx)
        // The loss rides back to stage 0, whose completion reports it: the tracker counts it before the step can close.
        await this.#send(to, mb, 'gradients', dx, { receipts: [...route.receipts, receipt], ...(route.loss != null ? { loss: route.loss } : {}) })
      }
    }
  }

  /**
   * Commits this stage's output of `mb` if `mb` belongs to a step right after a sync (the tracker's
   * rule for what it may check), and opens it if checked. Stage 0's forward is never checked.
   */
  async #audit (mb: number, output: Float32Array): Promise<void> {
    if (this.#i.isFirst || !this.#i.spot.enabled || !inPostSyncStep(mb, this.#i.accumulation, this.#i.syncEvery)) return
    await this.#i.spot.audit(mb, this.#i.stage, output, this.#current(), this.#i.clock.applied)
  }

  /** The router's send: one replica, with this hop's receipt. */
  async sendActivationsTo (to: string, mb: number, route: Route): Promise<number> {
    const receipt = await this.#sign(mb, 'fwd', this.#i.flops.forward, route.inDigest, route.outDigest, to)
    return await this.#send(to, mb, 'activations', route.activations!, { receipts: [...route.receipts, receipt] })
  }

  async sendShadow (to: string, mb: number, data: Float32Array): Promise<void> {
    await this.#send(to, mb, 'activations', data, { spot: 'shadow' })
  }

  /** A validation batch's activations, to the first replica of the next stage that takes them. */
  async sendEval (batch: number, step: number, data: Float32Array): Promise<void> {
    const next = this.#i.next()
    for (const to of next) {
      try {
        await this.#send(to, batch, 'activations', data, { eval: step })
        return
      } catch (err) {
        log('validation batch', batch, 'to', to, 'failed:', (err as Error).message)
      }
    }
    throw new NoReplicaError(`no replica of the next stage took validation batch ${batch} (${next.length} listed)`)
  }

  async #send (to: string, mb: number, kind: 'activations' | 'gradients', data: Float32Array, meta: TensorMeta): Promise<number> {
    const wire = this.#i.encoder.encode(kind, mb, data)
    const r = await this.#i.transport.send(to, { microbatch: mb, kind, optimizerStep: this.#i.clock.applied, data, meta, wire })
    this.#i.events.bytesSent(r.bytes)
    return r.ms
  }

  async #sign (mb: number, direction: 'fwd' | 'bwd', flops: number, inDigest: string, outDigest: string, to: string): Promise<SenderSignedReceipt> {
    return await this.#i.signer.sign({ microbatch: mb, stage: this.#i.stage, direction, flops, inDigest, outDigest, to })
  }

  // ---- stage 0

  /** Runs a leased microbatch from its tokens. */
  async start (mb: number): Promise<void> {
    if (!this.#i.isLast) this.#i.compute.reserve(mb) // its slot, before anything async: the pump counts it
    const { inputs } = this.#i.data!(mb)
    try {
      // Flush-synchronous campaigns: the step this lease's reply announced applies first (a stop
      // while waiting lands in the catch below, like any other failure to start).
      if (this.#i.lookahead === 0) await this.#i.clock.settled()
      const route = this.#i.router.open(mb, { input: inputs, inDigest: await this.#i.signer.digest(inputs), from: null, receipts: [] })
      const f = await forwardMicrobatch(this.#ops(route), this.#io(route), mb, inputs, this.#i.isLast ? this.#i.data!(mb).targets : undefined)
      if (f.finished) { // a one-stage campaign: this tab is both ends
        this.#i.router.close(mb)
        if (f.loss != null) this.#i.events.loss(mb, f.loss)
        await this.#completed(mb, [], f.loss ?? undefined)
      }
    } catch (err) {
      log('microbatch', mb, 'could not start:', (err as Error).message)
      this.#i.router.close(mb)
      this.#i.compute.release(mb)
      await this.#i.release(mb).catch(() => {})
    }
  }

  async #completed (mb: number, receipts: SignedReceipt[], loss: number | undefined): Promise<void> {
    const window = this.#i.window()
    this.#i.leases.expect()
    try {
      let reply: CompleteReply | null = null
      for (let attempt = 0; reply == null; attempt++) {
        try {
          reply = await this.#i.complete(mb, receipts, window, loss)
        } catch (err) {
          if (!await this.#i.retryCompletion(err, attempt)) throw err
        }
      }
      this.#i.leases.reply(reply)
    } catch {
      this.#i.leases.settle()
      // Refused (or unreachable): hand the lease back so the microbatch runs again now, not after the lease times out.
      this.#i.events.retried()
      await this.#i.release(mb).catch(() => {})
    }
  }

  // ---- receiving

  /** Takes custody of an arriving tensor (the ack goes out when this returns); the work runs after. Throws to nack. */
  accept (t: InboundTensor): Promise<void> | null {
    const work = this.#accept(t)
    work?.catch(err => { log('microbatch', t.microbatch, t.kind, 'failed:', (err as Error).message) })
    return work
  }

  #accept (t: InboundTensor): Promise<void> | null {
    if (!this.running) throw new NotReadyError('this tab is not training')
    if (t.kind === 'activations' && t.optimizerStep < this.#i.clock.applied - this.#i.lookahead) {
      throw new StaleError(`activations of step ${t.optimizerStep}, this replica is at ${this.#i.clock.applied}`)
    }
    if (!(t.data instanceof Float32Array)) throw new DTypeError('expected f32 data')
    // Delivery is at least once (a lost ack makes the sender resend): drop a copy we already hold.
    const held = t.kind === 'activations' && t.meta.spot !== 'shadow' && t.meta.eval == null ? this.#i.router.routes.get(t.microbatch) : undefined
    if (held != null && held.from === t.from) return null
    if (held != null) throw new DuplicateError(`microbatch ${t.microbatch} is already here from another sender`)
    this.#i.events.bytesReceived(t.payloadBytes ?? t.data.byteLength)
    return t.kind === 'activations' ? this.#onActivations(t) : this.#onGradients(t)
  }

  async #countersign (t: InboundTensor): Promise<SignedReceipt[]> {
    const list = t.meta.receipts
    if (!Array.isArray(list) || list.length === 0) throw new ReceiptMismatchError('tensor carries no receipts')
    const last = list[list.length - 1] as SenderSignedReceipt
    const r = last.receipt
    if (r?.from !== t.from || r.to !== this.#i.me || r.outDigest !== t.sha256 || r.microbatch !== t.microbatch) {
      throw new ReceiptMismatchError('the hop receipt does not match the tensor that came with it')
    }
    return [...list.slice(0, -1) as SignedReceipt[], await this.#i.signer.countersign(last)]
  }

  async #learnStep (senderStep: number): Promise<void> {
    const stepping = this.#i.clock.advanceTo(senderStep)
    // Flush-synchronous campaigns keep exact maths: no forward on weights a step behind.
    if (this.#i.lookahead === 0) await stepping
  }

  async #onActivations (t: InboundTensor): Promise<void> {
    await this.#learnStep(t.optimizerStep)
    const mb = t.microbatch
    const input = t.data
    if (t.meta.eval != null) {
      // Forward only, in the spare slot: no route, no receipt, no credit.
      await this.#i.validation.onBatch(mb, t.meta.eval, input)
      return
    }
    if (t.meta.spot === 'shadow') {
      // Committed and opened like any output (the tracker checks this one); nothing is sent on.
      const output = await this.#i.compute.spot(input, this.#i.isLast ? this.#i.data!(mb).targets : undefined)
      if (this.#i.spot.enabled) await this.#i.spot.audit(mb, this.#i.stage, output, this.#current(), this.#i.clock.applied)
      return
    }
    const route = this.#i.router.open(mb, { input, inDigest: t.sha256, from: t.from, receipts: await this.#countersign(t) })
    try {
      const f = await forwardMicrobatch(this.#ops(route), this.#io(route), mb, input, this.#i.isLast ? this.#i.data!(mb).targets : undefined)
      if (f.finished) {
        this.#i.router.close(mb)
        if (f.loss != null) this.#i.events.loss(mb, f.loss)
      }
    } catch (err) {
      // No replica took it now: keep the activations, the route check tries again.
      if ((err as Error).name === 'NoReplicaError' && route.activations != null) throw err
      this.#i.router.close(mb)
      this.#i.compute.release(mb)
      throw err
    }
  }

  async #onGradients (t: InboundTensor): Promise<void> {
    const mb = t.microbatch
    const route = this.#i.router.answer(mb, t.from)
    if (route == null) return
    route.receipts = await this.#countersign(t)
    // Peer data: only a finite number is relayed on (and reported by stage 0).
    const loss = t.meta.loss
    if (typeof loss === 'number' && Number.isFinite(loss)) route.loss = loss
    await backwardMicrobatch(this.#ops(route), this.#io(route), mb, t.data)
    if (this.#i.isFirst) await this.#completed(mb, route.receipts, route.loss)
  }

  #current (): { step: number, digest: string } | null {
    const w = this.#i.syncedWeights()
    return w != null && w.step === this.#i.clock.applied ? w : null
  }

  // ---- route upkeep (a timer, off the hot path)

  /**
   * Every stage watches its own next hop: a microbatch whose receiver's connection closed (or
   * that never came back) goes to another replica of the next stage from the activations this
   * stage still holds, so a crash deep in the pipeline is repaired where it happened. A route
   * that cannot be re-sent is dropped (stage 0 hands its lease back: the tracker re-leases it).
   */
  checkRoutes (): void {
    const { router, compute } = this.#i
    const drop = async (mb: number): Promise<void> => {
      router.close(mb)
      compute.release(mb)
      if (this.#i.isFirst) await this.#i.release(mb).catch(() => {})
    }
    for (const [mb, route] of [...router.stale(), ...router.unsent()]) router.forward(mb, route).catch(async () => { if (this.#i.isFirst) await drop(mb) })
    if (!this.#i.isFirst) for (const mb of router.expired()) void drop(mb)
  }
}
