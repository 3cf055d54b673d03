// A discrete-event clock for the simulator: timers sit in a binary heap and fire in time order
// (ties in the order they were set). After each instant's timers, every promise callback they
// caused runs before time moves on, so the runtime's async code sees a consistent world.
import type { Clock } from '../train/swarm/clock.ts'

interface Timer { at: number, seq: number, fn: () => void, live: boolean }

export class VirtualClock implements Clock {
  #now = 0
  #seq = 0
  readonly #heap: Timer[] = []
  /** Timers fired so far (the simulator's event count). */
  events = 0

  now (): number { return this.#now }

  after (ms: number, fn: () => void): Timer {
    // Whole milliseconds: events of the same millisecond share one drain of the promise queue.
    const t: Timer = { at: Math.ceil(this.#now + Math.max(0, ms)), seq: this.#seq++, fn, live: true }
    this.#push(t)
    return t
  }

  cancel (handle: unknown): void { (handle as Timer).live = false }

  async sleep (ms: number): Promise<void> { await new Promise<void>(resolve => { this.after(ms, resolve) }) }

  /** Runs events until `untilMs` (or until nothing is left). */
  async run (untilMs: number): Promise<void> {
    await drain()
    while (this.#heap.length > 0 && this.#heap[0].at <= untilMs) {
      const at = this.#heap[0].at
      this.#now = at
      while (this.#heap.length > 0 && this.#heap[0].at === at) {
        const t = this.#pop()
        if (!t.live) continue
        this.events++
        t.fn()
      }
      await drain()
    }
    this.#now = Math.max(this.#now, untilMs)
  }

  #less (a: Timer, b: Timer): boolean { return a.at < b.at || (a.at === b.at && a.seq < b.seq) }

  #push (t: Timer): void {
    const h = this.#heap
    h.push(t)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.#less(h[i], h[p])) break
      ;[h[i], h[p]] = [h[p], h[i]]
      i = p
    }
  }

  #pop (): Timer {
    const h = this.#heap
    const top = h[0]
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && this.#less(h[l], h[m])) m = l
        if (r < h.length && this.#less(h[r], h[m])) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m], h[i]]
        i = m
      }
    }
    return top
  }
}

/** Lets every pending promise callback run (setImmediate runs after the microtask queue is empty). */
async function drain (): Promise<void> {
  await new Promise<void>(resolve => setImmediate(resolve))
}
