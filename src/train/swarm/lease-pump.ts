// Stage 0's supply of microbatches. Event-driven: it acts when a slot frees up, when a completion
// reply hands it the next leases (granted ahead, so the steady state makes no lease request of
// its own), when membership changes, or on resume. Timers only back off after an empty or failed
// request, never on the hot path, so a hidden tab's 1 s timer clamping does not slow training.
import type { Lease, LeaseReply } from '../../protocol/swarm.ts'
import type { Clock } from './clock.ts'
import { LEASE_EMPTY_MS, LEASE_RETRY_MS } from './constants.ts'

export interface LeasePumpInit {
  clock: Clock
  /** Asks the tracker for up to `max` leases. */
  lease: (max: number) => Promise<LeaseReply>
  /** Gives a lease back. */
  release: (id: number) => Promise<void>
  /** Activation slots free for new microbatches. */
  freeSlots: () => number
  /** May new microbatches start now (running, not paused, a next stage to send to)? */
  canStart: () => boolean
  /** Starts a leased microbatch (takes a slot). */
  start: (lease: Lease) => void
  /** The tracker's step, from every reply. */
  onStep: (step: number) => void
  /** Most leases held ahead (started or not). */
  window: number
  /** A failed request: the tracker forgot this tab (409) → rejoin. */
  onError?: (err: unknown) => Promise<void> | void
}

export class LeasePump {
  readonly #init: LeasePumpInit
  /** Leases granted and not yet started (a completion reply may bring more than free slots). */
  readonly #granted: Lease[] = []
  #asking = false
  /** Completions sent whose replies (with leases) are still coming: no separate request meanwhile. */
  #awaiting = 0
  #backoff: unknown = null
  #stopped = false
  /** Lease requests made (the steady state should make almost none). */
  requests = 0

  constructor (init: LeasePumpInit) { this.#init = init }

  get held (): number { return this.#granted.length }

  /** Ids granted and not started yet. */
  get grantedIds (): number[] { return this.#granted.map(l => l.id) }

  /** How many leases a completion reply may bring: room in the window after what is held. */
  wanted (inFlight: number): number {
    return Math.max(0, this.#init.window - inFlight - this.#granted.length)
  }

  /** A completion went out; its reply will bring leases (or `settle` says it failed). */
  expect (): void { this.#awaiting++ }

  /** A completion reply that will never come (the call failed). */
  settle (): void { this.#awaiting = Math.max(0, this.#awaiting - 1); this.kick() }

  /** Leases that came with a completion reply. */
  reply (reply: LeaseReply): void {
    this.#awaiting = Math.max(0, this.#awaiting - 1)
    this.grant(reply)
  }

  /** Leases granted (a lease or completion reply). */
  grant (reply: LeaseReply): void {
    this.#init.onStep(reply.step)
    for (const l of reply.leases) if (!this.#granted.some(g => g.id === l.id)) this.#granted.push(l)
    this.kick()
  }

  /** Starts what it can; asks the tracker only when nothing granted is waiting. */
  kick (): void {
    if (this.#stopped || !this.#init.canStart()) return
    while (this.#granted.length > 0 && this.#init.freeSlots() > 0) this.#init.start(this.#granted.shift()!)
    const free = this.#init.freeSlots()
    if (free === 0 || this.#granted.length > 0 || this.#asking || this.#awaiting > 0 || this.#backoff != null) return
    this.#asking = true
    this.requests++
    void this.#init.lease(Math.min(free, this.#init.window)).then(reply => {
      this.#asking = false
      if (reply.leases.length === 0) {
        this.#init.onStep(reply.step)
        this.#retryIn(LEASE_EMPTY_MS)
        return
      }
      this.grant(reply)
    }, async err => {
      this.#asking = false
      await this.#init.onError?.(err)
      this.#retryIn(LEASE_RETRY_MS)
    })
  }

  #retryIn (ms: number): void {
    if (this.#stopped) return
    this.#backoff = this.#init.clock.after(ms, () => { this.#backoff = null; this.kick() })
  }

  /** Gives back every lease granted ahead and not started (a paused tab should not sit on work). */
  async releaseGranted (): Promise<void> {
    const held = this.#granted.splice(0)
    await Promise.all(held.map(async l => { await this.#init.release(l.id).catch(() => {}) }))
  }

  /** Stops and gives back every lease not started. */
  async stop (): Promise<void> {
    this.#stopped = true
    if (this.#backoff != null) this.#init.clock.cancel(this.#backoff)
    await this.releaseGranted()
  }
}
