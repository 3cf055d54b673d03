// A stage's GPU as the swarm sees it: one job at a time, in 1F1B order (a backward, an optimizer
// step or a weight exchange that is ready runs before a new forward), with K activation slots so
// that K microbatches can sit between their forward and their backward without recomputing.
//
// A forward takes a slot and keeps it until that microbatch's backward. When all K are held
// (a downstream replica died with our microbatch), the oldest holder is evicted: its backward,
// if it ever comes, recomputes the forward from the kept input first. Stage 0 leases no more
// microbatches than it has free slots, so it never recomputes in steady state.
import type { StepOptions } from '../../model/stage.ts'
import type { Clock } from './clock.ts'
import { StoppedError } from './errors.ts'

/** The kernels of one stage (the compute worker, or the simulator's timed stand-in). */
export interface StageKernels {
  forward(input: Float32Array | Uint32Array, targets: Uint32Array | undefined, slot: number): Promise<{ output: Float32Array | null, loss: number | null }>
  backward(dOutput: Float32Array | undefined, slot: number): Promise<{ dInput: Float32Array | null }>
  step(opts: StepOptions): Promise<unknown>
  zeroGrad(): Promise<void>
  /** Output for `input` without touching accumulated gradients (spot checks), in `slot`. */
  spotRun(input: Float32Array, targets: Uint32Array | undefined, slot: number): Promise<{ output: Float32Array }>
  exportParams(): Promise<Float32Array>
  importParams(params: Float32Array): Promise<void>
}

export interface StageComputeInit {
  kernels: StageKernels
  /** Activation slots for microbatches in flight (the worker allocates one more, for spot runs). */
  slots: number
  clock: Clock
  /** Told when a slot frees up (the lease pump leases into it). */
  onSlotFreed?: () => void
  /**
   * Microbatches stage 0 may hold between forward and backward. Beyond `slots` their activations
   * are not kept (the forward runs in the spare slot) and the backward recomputes them: worth it
   * when links, not the GPU, bound the pipeline. @default slots (never recompute)
   */
  capacity?: number
}

/** Activation slots that fit a memory budget: at least 1, at most `max`. */
export function slotsFor (bytesPerSlot: number, budgetBytes: number, max: number): number {
  if (!(bytesPerSlot > 0)) return 1
  return Math.max(1, Math.min(max, Math.floor(budgetBytes / bytesPerSlot)))
}

type Priority = 'backward' | 'forward'
interface Job { priority: Priority, run: () => Promise<void> }

export class StageCompute {
  readonly slots: number
  readonly capacity: number
  readonly #k: StageKernels
  readonly #clock: Clock
  readonly #onSlotFreed: (() => void) | undefined
  readonly #urgent: Job[] = []
  readonly #normal: Job[] = []
  #running = false
  #stopped = false
  /** Microbatch → slot (−1: held without activations), in the order they took it (oldest first). */
  readonly #held = new Map<number, number>()
  readonly #free: number[]
  #budget = 1
  #busyMs = 0
  #idleMs = 0
  #idleSince: number | null = null
  #recomputes = 0
  /** Queued forwards whose microbatch holds no slot yet (each will take one). */
  #unslotted = 0
  /** The order jobs ran in, for tests and the simulator's cross-check. @default off */
  trace: string[] | null = null

  constructor (init: StageComputeInit) {
    if (!Number.isInteger(init.slots) || init.slots < 1) throw new RangeError(`slots must be a positive integer, got ${init.slots}`)
    this.slots = init.slots
    this.capacity = Math.max(init.slots, init.capacity ?? init.slots)
    this.#k = init.kernels
    this.#clock = init.clock
    this.#onSlotFreed = init.onSlotFreed
    this.#free = Array.from({ length: init.slots }, (_, i) => init.slots - 1 - i)
  }

  /** Slots not held by a microbatch and not promised to a queued forward. */
  get freeSlots (): number { return Math.max(0, Math.min(this.#free.length + this.capacity - this.slots, this.capacity - this.#held.size) - this.#unslotted) }
  get queued (): number { return this.#urgent.length + this.#normal.length + (this.#running ? 1 : 0) }
  get busyMs (): number { return this.#busyMs }
  get idleMs (): number { return this.#idleMs + (this.#idleSince != null ? this.#clock.now() - this.#idleSince : 0) }
  get recomputes (): number { return this.#recomputes }
  /** Does `mb` have its activations in a slot? */
  holds (mb: number): boolean { return (this.#held.get(mb) ?? -1) >= 0 }

  /** Starts counting idle time (training began). */
  startIdleClock (): void { if (this.#idleSince == null && !this.#running) this.#idleSince = this.#clock.now() }

  /** The share of time the GPU may work (the volunteer's budget), in [0.05, 1]. */
  setBudget (fraction: number): void { this.#budget = Math.min(1, Math.max(0.05, fraction)) }

  /**
   * Takes a slot for `mb` now (stage 0, as it starts a leased microbatch), so `freeSlots` counts
   * it at once; beyond the slots (capacity > slots) it holds a place without activations.
   */
  reserve (mb: number): void {
    if (this.#held.has(mb)) return
    this.#held.set(mb, this.#free.pop() ?? -1)
  }

  /** Forward of microbatch `mb`; its activations stay in a slot until `backward(mb)`. */
  async forward (mb: number, input: Float32Array | Uint32Array, targets?: Uint32Array): Promise<{ output: Float32Array | null, loss: number | null }> {
    const unslotted = !this.#held.has(mb)
    if (unslotted) this.#unslotted++
    return await this.#enqueue('forward', async () => {
      if (unslotted) this.#unslotted--
      this.#trace(`F${mb}`)
      const held = this.#held.get(mb)
      // Held without a slot: run in the spare slot, whose contents the next job may overwrite.
      return await this.#k.forward(input, targets, held === -1 ? this.slots : this.#take(mb))
    })
  }

  /**
   * Backward of microbatch `mb` from `dOutput` (none on the last stage). `recompute` gives the
   * forward's input again, for when its slot was evicted.
   */
  async backward (mb: number, dOutput: Float32Array | undefined, recompute: { input: Float32Array | Uint32Array, targets?: Uint32Array }): Promise<Float32Array | null> {
    return await this.#enqueue('backward', async () => {
      let slot = this.#held.get(mb)
      if (slot == null || slot === -1) {
        this.#recomputes++
        this.#trace(`R${mb}`)
        slot = this.#free.pop() ?? this.slots // a free slot, else the spare one
        if (slot !== this.slots) this.#held.set(mb, slot)
        await this.#k.forward(recompute.input, recompute.targets, slot)
      }
      this.#trace(`B${mb}`)
      try {
        return (await this.#k.backward(dOutput, slot)).dInput
      } finally {
        this.release(mb)
      }
    })
  }

  /** The last stage: forward, loss and backward of `mb` as one job. */
  async forwardBackward (mb: number, input: Float32Array | Uint32Array, targets: Uint32Array): Promise<{ loss: number | null, dInput: Float32Array | null }> {
    return await this.#enqueue('forward', async () => {
      this.#trace(`FB${mb}`)
      const slot = this.#take(mb)
      try {
        const f = await this.#k.forward(input, targets, slot)
        const b = await this.#k.backward(undefined, slot)
        return { loss: f.loss, dInput: b.dInput }
      } finally {
        this.release(mb)
      }
    })
  }

  /**
   * A validation forward in the reserved slot K (stage 0 takes token ids): the output, or with
   * `targets` on the last stage the loss. No gradients change.
   */
  async evaluate (input: Float32Array | Uint32Array, targets?: Uint32Array): Promise<{ output: Float32Array | null, loss: number | null }> {
    return await this.#enqueue('forward', async () => await this.#k.forward(input, targets, this.slots))
  }

  /** A spot-check run in the reserved slot K: no gradients change. */
  async spot (input: Float32Array, targets?: Uint32Array): Promise<Float32Array> {
    return await this.#enqueue('forward', async () => (await this.#k.spotRun(input, targets, this.slots)).output)
  }

  /** An optimizer step or a weight exchange: runs before any queued forward. */
  async exclusive<T> (what: string, fn: (k: StageKernels) => Promise<T>): Promise<T> {
    return await this.#enqueue('backward', async () => { this.#trace(what); return await fn(this.#k) })
  }

  /** Frees `mb`'s slot (its route was abandoned). */
  release (mb: number): void {
    const slot = this.#held.get(mb)
    if (slot == null) return
    this.#held.delete(mb)
    if (slot >= 0 && slot < this.slots) this.#free.push(slot)
    this.#onSlotFreed?.()
  }

  /** Fails every queued job; the runtime is going away. */
  stop (): void {
    this.#stopped = true
    this.#unslotted = 0
    for (const j of [...this.#urgent.splice(0), ...this.#normal.splice(0)]) void j.run()
  }

  #take (mb: number): number {
    const have = this.#held.get(mb)
    if (have != null && have >= 0) return have
    let slot = this.#free.pop()
    if (slot == null) {
      // Evict the oldest holder that has activations (its route is the likeliest to be dead).
      for (const [other, s] of this.#held) {
        if (s < 0) continue
        this.#held.set(other, -1)
        slot = s
        break
      }
    }
    if (slot == null) return this.slots // nothing to evict: the spare slot
    this.#held.set(mb, slot)
    return slot
  }

  #trace (what: string): void { this.trace?.push(what) }

  #enqueue<T> (priority: Priority, job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = async (): Promise<void> => {
        if (this.#stopped) { reject(new StoppedError('the stage stopped')); return }
        try { resolve(await job()) } catch (err) { reject(err) }
      }
      ;(priority === 'backward' ? this.#urgent : this.#normal).push({ priority, run })
      this.#pump()
    })
  }

  #pump (): void {
    if (this.#running || this.#stopped) return
    const job = this.#urgent.shift() ?? this.#normal.shift()
    if (job == null) return
    this.#running = true
    if (this.#idleSince != null) { this.#idleMs += this.#clock.now() - this.#idleSince; this.#idleSince = null }
    const t0 = this.#clock.now()
    void job.run().then(async () => {
      const ms = this.#clock.now() - t0
      this.#busyMs += ms
      // The volunteer's budget: rest in proportion, so the GPU works `budget` of the time.
      if (this.#budget < 1) await this.#clock.sleep(ms * (1 - this.#budget) / this.#budget)
      this.#running = false
      if (this.#urgent.length + this.#normal.length === 0) this.#idleSince = this.#clock.now()
      this.#pump()
    })
  }
}
