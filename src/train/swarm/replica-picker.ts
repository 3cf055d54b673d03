// Chooses the next-stage replica for a microbatch by expected finish time: an EMA of how long
// that replica took to take a tensor, times the microbatches this tab already has waiting there.
// Unmeasured replicas look fast, so every replica gets tried.

const EMA_ALPHA = 0.3
/** A failed send counts as this slow, so the replica is avoided until it proves itself again. */
const PENALTY_MS = 5_000

export class ReplicaPicker {
  readonly #ema = new Map<string, number>()
  readonly #outstanding = new Map<string, number>()
  readonly #excluded = new Set<string>()

  /**
   * `load(peer)`: microbatches this tab already has at `peer` awaiting their gradients (the
   * router knows), so work spreads over replicas instead of piling onto the one that acks fastest.
   */
  pick (candidates: readonly string[], skip: ReadonlySet<string> = new Set(), load: (peer: string) => number = () => 0): string | null {
    let best: string | null = null
    let bestCost = Infinity
    for (const c of candidates) {
      if (skip.has(c) || this.#excluded.has(c)) continue
      // Unmeasured replicas cost 1 ms per microbatch there: tried first, but not all at once.
      const cost = Math.max(1, this.#ema.get(c) ?? 0) * (1 + (this.#outstanding.get(c) ?? 0) + load(c))
      if (cost < bestCost || (cost === bestCost && best != null && c < best)) { best = c; bestCost = cost }
    }
    if (best != null) this.#outstanding.set(best, (this.#outstanding.get(best) ?? 0) + 1)
    return best
  }

  /** A send to `peer` finished after `ms`. */
  observe (peer: string, ms: number): void {
    const prev = this.#ema.get(peer)
    this.#ema.set(peer, prev == null ? ms : prev + EMA_ALPHA * (ms - prev))
    this.#outstanding.set(peer, Math.max(0, (this.#outstanding.get(peer) ?? 1) - 1))
  }

  penalize (peer: string): void {
    this.#ema.set(peer, Math.max(this.#ema.get(peer) ?? 0, PENALTY_MS))
    this.#outstanding.set(peer, Math.max(0, (this.#outstanding.get(peer) ?? 1) - 1))
  }

  /** Never route to this peer again (it broke the protocol or failed verification). */
  exclude (peer: string): void { this.#excluded.add(peer) }
  isExcluded (peer: string): boolean { return this.#excluded.has(peer) }
}
