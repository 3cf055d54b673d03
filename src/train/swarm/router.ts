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
  readonly routes = new Map<number, Route>()
  readonly #init: RouterInit

  constructor (init: RouterInit) { this.#init = init }

  open (mb: number, r: Omit<Route, 'sentTo' | 'earlier' | 'sentAt' | 'since' | 'attempts' | 'activations' | 'outDigest'>): Route {
    const route: Route = { ...r, sentTo: null, earlier: [], sentAt: 0, since: this.#init.clock.now(), attempts: 0, activations: null, outDigest: '' }
    this.routes.set(mb, route)
    return route
  }

  /** Sends the route's activations to the best next-stage replica, trying the others in turn. */
  async forward (mb: number, route: Route): Promise<string> {
    const tried = new Set<string>()
    const load = new Map<string, number>()
    for (const r of this.routes.values()) if (r.sentTo != null) load.set(r.sentTo, (load.get(r.sentTo) ?? 0) + 1)
    for (;;) {
      const to = this.#init.picker.pick(this.#init.next(), tried, p => load.get(p) ?? 0)
      if (to == null) throw new NoReplicaError(`no replica of the next stage took microbatch ${mb}`)
      tried.add(to)
      route.attempts++
      if (route.attempts > 1) this.#init.onRetry?.()
      try {
        const ms = await this.#init.sendTo(to, mb, route)
        this.#init.picker.observe(to, ms)
        route.sentTo = to
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
    this.routes.delete(mb)
    return route
  }

  /**
   * Routes whose receiver's connection closed (a crashed or reloaded tab lost our work) or that
   * did not answer in time: marked unsent. The tracker's replica list is not consulted: right
   * after a tracker restart it is briefly empty while the receivers are alive and working.
   */
  stale (): Array<[number, Route]> {
    const now = this.#init.clock.now()
    const out: Array<[number, Route]> = []
    for (const [mb, route] of this.routes) {
      if (route.sentTo == null || route.activations == null) continue
      const gone = !this.#init.connected(route.sentTo)
      const late = now - route.sentAt > this.#init.routeTimeoutMs
      // A slow but connected receiver that is the only one: sending it a copy would only double its work.
      if (!gone && late && !this.#init.next().some(p => p !== route.sentTo)) { route.sentAt = now; continue }
      if (gone || late) {
        this.#init.picker.penalize(route.sentTo)
        if (!gone) route.earlier.push(route.sentTo)
        route.sentTo = null
        out.push([mb, route])
      }
    }
    return out
  }

  /** Routes held longer than the timeout (a middle stage drops them: stage 0 re-routes the microbatch). */
  expired (): number[] {
    const now = this.#init.clock.now()
    return [...this.routes].filter(([, r]) => now - r.since > 2 * this.#init.routeTimeoutMs).map(([mb]) => mb)
  }
}
