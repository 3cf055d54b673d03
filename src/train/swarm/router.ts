// Where a microbatch's activations go next, and what happens when that goes wrong. The router
// keeps each outbound microbatch (its input, receipts and activations) until its gradients come
// back, picks the next-stage replica by expected finish time (ReplicaPicker), tries the others
// when a send fails, and re-routes microbatches whose receiver left or went silent.
import type { SignedReceipt } from '../../ledger/receipt.ts'
import type { Clock } from './clock.ts'
import { NoReplicaError } from './errors.ts'
import { createLogger } from '../../log.ts'

const log = createLogger('tabgrad:swarm')
import type { ReplicaPicker } from './replica-picker.ts'

/** One microbatch between its forward here and its backward here. */
export interface Route {
  /** Stage 0: the microbatch's tokens. Others: the activations that arrived. */
  input: Float32Array | Uint32Array
  inDigest: string
  /** Who sent us the input (stage > 0), to send gradients back to. */
  from: string | null
  /** Receipts of the route so far, each countersigned. */
  receipts: SignedReceipt[]
  sentTo: string | null
  /** Replicas it went to before a re-route: their late answers still count (first answer wins). */
  earlier: string[]
  sentAt: number
  /** Since when this tab holds the route. */
  since: number
  activations: Float32Array | null
  outDigest: string
  attempts: number
  /** A send is under way (so a retry does not start a second). */
  sending: boolean
  /** The last stage's loss of this microbatch, once known (it travels back with the gradients). */
  loss?: number
}

export interface RouterInit {
  picker: ReplicaPicker
  clock: Clock
  /** Live replicas of the next stage, now. */
  next: () => string[]
  /** Sends to one replica; throws when it did not take the tensor. Resolves with the exchange's ms. */
  sendTo: (to: string, mb: number, route: Route) => Promise<number>
  /** Is the connection to `peer` still open? */
  connected: (peer: string) => boolean
  routeTimeoutMs: number
  /** A microbatch went to a second replica (a retry). */
  onRetry?: () => void
}

export class Router {
  /** Read-only outside: `open`, `answer` and `close` keep the per-replica counts in step. */
  readonly routes = new Map<number, Route>()
  readonly #init: RouterInit
  /** Routes awaiting gradients from each replica (the picker's load). */
  readonly #load = new Map<string, number>()

  constructor (init: RouterInit) { this.#init = init }

  open (mb: number, r: Omit<Route, 'sentTo' | 'earlier' | 'sentAt' | 'since' | 'attempts' | 'activations' | 'outDigest' | 'sending'>): Route {
    const route: Route = { ...r, sentTo: null, earlier: [], sentAt: 0, since: this.#init.clock.now(), attempts: 0, activations: null, outDigest: '', sending: false }
    this.routes.set(mb, route)
    return route
  }

  /** Sends the route's activations to the best next-stage replica, trying the others in turn. */
  async forward (mb: number, route: Route): Promise<string> {
    const tried = new Set<string>()
    this.#unsend(route)
    route.sending = true
    try {
      return await this.#forward(mb, route, tried)
    } finally {
      route.sending = false
    }
  }

  async #forward (mb: number, route: Route, tried: Set<string>): Promise<string> {
    for (;;) {
      const to = this.#init.picker.pick(this.#init.next(), tried, p => this.#load.get(p) ?? 0)
      if (to == null) throw new NoReplicaError(`no replica of the next stage took microbatch ${mb}`)
      tried.add(to)
      route.attempts++
      if (route.attempts > 1) this.#init.onRetry?.()
      try {
        const ms = await this.#init.sendTo(to, mb, route)
        this.#init.picker.observe(to, ms)
        if (this.routes.get(mb) !== route) return to // closed while sending
        route.sentTo = to
        this.#load.set(to, (this.#load.get(to) ?? 0) + 1)
        route.sentAt = this.#init.clock.now()
        return to
      } catch (err) {
        log('send of microbatch', mb, 'to', to, 'failed:', (err as Error).message)
        this.#init.picker.penalize(to)
      }
    }
  }

  /** Gradients for `mb` came from `from`: the route, if they are the answer we wait for. */
  answer (mb: number, from: string): Route | null {
    const route = this.routes.get(mb)
    // An answer from a replica we never sent it to, or a second answer: ignore it.
    if (route == null || (route.sentTo !== from && !route.earlier.includes(from))) return null
    this.close(mb)
    return route
  }

  /** Forgets microbatch `mb` (answered, finished, or abandoned). */
  close (mb: number): void {
    const route = this.routes.get(mb)
    if (route == null) return
    this.#unsend(route)
    this.routes.delete(mb)
  }

  #unsend (route: Route): void {
    if (route.sentTo == null) return
    const n = (this.#load.get(route.sentTo) ?? 1) - 1
    if (n > 0) this.#load.set(route.sentTo, n)
    else this.#load.delete(route.sentTo)
    route.sentTo = null
  }

  /**
   * Routes whose receiver's connection closed (a crashed or reloaded tab lost our work) or that
   * did not answer in time: marked unsent. The tracker's replica list is not consulted: right
   * after a tracker restart it is briefly empty while the receivers are alive and working.
   */
  stale (): Array<[number, Route]> {
    const now = this.#init.clock.now()
    const out: Array<[number, Route]> = []
    const next = this.#init.next()
    const up = new Map<string, boolean>()
    for (const [mb, route] of this.routes) {
      const to = route.sentTo
      if (to == null || route.activations == null) continue
      let connected = up.get(to)
      if (connected == null) { connected = this.#init.connected(to); up.set(to, connected) }
      const late = now - route.sentAt > this.#init.routeTimeoutMs
      if (connected && !late) continue
      // A slow but connected receiver that is the only one: sending it a copy would only double its work.
      if (connected && !next.some(p => p !== to)) { route.sentAt = now; continue }
      this.#init.picker.penalize(to)
      if (connected) route.earlier.push(to)
      this.#unsend(route)
      out.push([mb, route])
    }
    return out
  }

  /** Routes whose activations no replica took yet (every one refused): to try again. */
  unsent (): Array<[number, Route]> {
    return [...this.routes].filter(([, r]) => r.sentTo == null && r.activations != null && !r.sending)
  }

  /** Routes held longer than the timeout (a middle stage drops them: stage 0 re-routes the microbatch). */
  expired (): number[] {
    const now = this.#init.clock.now()
    return [...this.routes].filter(([, r]) => now - r.since > 2 * this.#init.routeTimeoutMs).map(([mb]) => mb)
  }
}
