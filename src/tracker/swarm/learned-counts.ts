// How many credited microbatches each peer learned from in each replica-sync period, as the
// ledger saw them: replicas cap each other's sync weights at these counts, so a replica cannot
// claim more of the average than the work it was credited for. A period's counts are final once
// the step it ends at has opened (every microbatch before it is done), so every replica reads the
// same numbers and computes the same average.

export class LearnedCounts {
  readonly #periods = new Map<number, Map<string, number>>()

  /**
   * `fromStep`: the first step whose every credit this process records (after a restart, the
   * step after the open one, whose earlier credits the old process saw).
   */
  constructor (readonly accumulation: number, readonly syncEvery: number, readonly fromStep = 0, readonly keep = 8) {}

  /** Whether the period ending at sync step `step` began after counting did: its counts are whole. */
  sawWhole (step: number): boolean {
    return step - this.syncEvery >= this.fromStep
  }

  /** The sync step a microbatch's period ends at: its weights are averaged there. */
  syncStepOf (mb: number): number {
    return (Math.floor(Math.floor(mb / this.accumulation) / this.syncEvery) + 1) * this.syncEvery
  }

  /** A credited microbatch: every peer on its route learned from it. */
  record (mb: number, peers: Iterable<string>): void {
    const end = this.syncStepOf(mb)
    let counts = this.#periods.get(end)
    if (counts == null) {
      counts = new Map()
      this.#periods.set(end, counts)
      for (const old of this.#periods.keys()) if (old <= end - this.keep * this.syncEvery) this.#periods.delete(old)
    }
    for (const p of new Set(peers)) counts.set(p, (counts.get(p) ?? 0) + 1)
  }

  /** Counts of the period that ends at sync step `step`. */
  countsAt (step: number): Record<string, number> {
    return Object.fromEntries(this.#periods.get(step) ?? [])
  }
}
