// Validation losses the swarm reports (DESIGN.md "Evaluation"): after the steps that evaluate
// (train/evaluate.ts), stage 0 sends the fixed validation windows forward through the stages and
// the last stage reports each batch's loss. A step's point is the mean over its batches, made once
// every batch has come; the first report of a batch counts. Bounded: a few steps open at once.

export interface ValidationPoint { step: number, loss: number }

export class ValidationBook {
  /** step → batch → loss, for steps still missing a batch. */
  readonly #open = new Map<number, Map<number, number>>()
  readonly #points: ValidationPoint[] = []

  constructor (readonly batches: number, readonly keepOpen = 8, readonly keepPoints = 1000) {}

  /** Records one batch's loss; false if that batch of that step was already in (or its point made). */
  record (step: number, batch: number, loss: number): boolean {
    if (this.#points.some(p => p.step === step)) return false
    let got = this.#open.get(step)
    if (got == null) {
      got = new Map()
      this.#open.set(step, got)
      // The oldest unfinished step gives way (a batch lost on the way never comes).
      for (const old of this.#open.keys()) { if (this.#open.size <= this.keepOpen) break; this.#open.delete(old) }
    }
    if (got.has(batch)) return false
    got.set(batch, loss)
    if (got.size === this.batches) {
      this.#open.delete(step)
      let sum = 0
      for (const l of got.values()) sum += l
      this.#points.push({ step, loss: sum / this.batches })
      this.#points.sort((a, b) => a.step - b.step)
      if (this.#points.length > this.keepPoints) this.#points.shift()
    }
    return true
  }

  points (): ValidationPoint[] { return this.#points.map(p => ({ ...p })) }
}
