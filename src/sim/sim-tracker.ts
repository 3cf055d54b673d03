// The tracker as simulated tabs reach it: the real Coordinator behind a round trip of the tab's
// RTT, with HTTP's error statuses (409 when the tracker does not know the tab, 503 while it
// restarts). A restart keeps the coordinator's checkpoint, as a tracker that persists it would.
import { Coordinator, NotStageZeroError, UnknownTabError, type CoordinatorInit } from '../tracker/swarm/coordinator.ts'
import { splitStages, type GPTConfig } from '../model/config.ts'
import { TrackerError, type TrackerClient } from '../train/swarm/tracker-client.ts'
import type { VirtualClock } from './virtual-clock.ts'
import { PeerReports } from '../tracker/swarm/peer-reports.ts'
import { ValidationBook } from '../tracker/swarm/validation-book.ts'
import { VALIDATION_BATCHES } from '../train/evaluate.ts'

export class SimTracker {
  coord: Coordinator
  #down = false
  readonly #init: CoordinatorInit
  readonly #clock: VirtualClock
  readonly #config: GPTConfig
  restarts = 0
  /** Requests served (the tracker's load). */
  requests = 0
  /** Peers tabs disconnected for a violation. */
  readonly reports = new PeerReports()
  /** Validation losses the last stage reported (the real tracker's book). */
  readonly validation = new ValidationBook(VALIDATION_BATCHES)

  constructor (clock: VirtualClock, config: GPTConfig, init: CoordinatorInit) {
    this.#clock = clock
    this.#config = config
    this.#init = { ...init, now: () => clock.now() }
    this.coord = new Coordinator(this.#init)
  }

  /** Goes down for `outageMs`, then comes back with the persisted checkpoint and no tabs. */
  restart (outageMs: number): void {
    const cp = this.coord.checkpoint()
    this.#down = true
    this.#clock.after(outageMs, () => {
      this.coord = new Coordinator(this.#init)
      this.coord.restore(cp)
      this.#down = false
      this.restarts++
    })
  }

  clientFor (peerId: string, rttMs: number, alive: () => boolean): TrackerClient {
    // One event per call: the whole round trip, then the coordinator answers (it sees the request
    // half an RTT late, which no decision here is sensitive to).
    const call = async <T>(fn: (c: Coordinator) => T): Promise<T> => {
      await this.#clock.sleep(rttMs)
      if (!alive()) throw new TrackerError(0, 'this tab crashed')
      if (this.#down) throw new TrackerError(503, 'the tracker is restarting')
      this.requests++
      try {
        return fn(this.coord)
      } catch (err) {
        if (err instanceof UnknownTabError || err instanceof NotStageZeroError) throw new TrackerError(409, err.message)
        throw err
      }
    }
    const S = this.#init.stages
    const ranges = splitStages(this.#config, S)
    return {
      join: async opts => await call(c => {
        const t = c.join(peerId, opts)
        return { stage: t.stage, range: ranges[t.stage], stages: S, step: c.step, replicas: c.replicas(t.stage) }
      }),
      heartbeat: async stats => await call(c => {
        const t = c.heartbeat(peerId, stats)
        return { stage: t.stage, step: c.step, done: c.done, replicas: c.replicas(t.stage), next: t.stage + 1 < S ? c.replicas(t.stage + 1) : [], prev: t.stage > 0 ? c.replicas(t.stage - 1) : [], excluded: c.isExcluded(peerId) }
      }),
      lease: async max => await call(c => c.lease(peerId, max)),
      complete: async (mb, _receipts, window = 0, loss) => await call(c => {
        const credited = c.complete(peerId, mb, loss)
        return { credited, ...(window > 0 ? c.lease(peerId, window) : { step: c.step, leases: [] }) }
      }),
      release: async mb => { await call(c => { c.release(peerId, mb) }) },
      loss: async (mb, loss) => { await call(c => { c.reportLoss(peerId, mb, loss) }) },
      leave: async () => { await call(c => { c.leave(peerId) }) },
      learned: async () => null,
      spotcommit: async () => await call(() => ({ checked: false })),
      spotcheck: async () => await call(() => ({ verdicts: [] })),
      report: async b => { await call(() => { this.reports.record(peerId, b.offender, b.reason) }) },
      evalloss: async b => { await call(() => { this.validation.record(b.step, b.batch, b.loss) }) },
      status: async () => await call(c => c.status())
    }
  }
}
