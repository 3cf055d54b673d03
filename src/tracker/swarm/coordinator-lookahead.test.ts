// The pipelined schedule's side of the coordinator: with lookahead L, step k+1's microbatches are
// leased once step k's are all out, so stage 0 never waits for the pipeline to drain.
import { describe, expect, it } from 'vitest'
import { Coordinator, type CoordinatorInit } from './coordinator.ts'

function make (over: Partial<CoordinatorInit> = {}): Coordinator {
  const c = new Coordinator({ stages: 1, accumulation: 2, totalSteps: 3, stageWork: [1], now: () => 0, ...over })
  c.join('a'); c.heartbeat('a')
  return c
}

describe('Coordinator lookahead', () => {
  it('L = 0: the next step is leased only after every microbatch of this one completed (flush)', () => {
    const c = make()
    expect(c.lease('a', 4).leases.map(l => l.id)).toEqual([0, 1])
    expect(c.lease('a', 4).leases).toEqual([])
    c.complete('a', 0)
    expect(c.lease('a', 4).leases).toEqual([])
    c.complete('a', 1)
    expect(c.step).toBe(1)
    expect(c.lease('a', 4).leases).toEqual([{ id: 2, step: 1 }, { id: 3, step: 1 }])
  })

  it('L = 1: the next step\'s ids go out as soon as this step\'s are all leased, never two steps ahead', () => {
    const c = make({ lookahead: 1 })
    expect(c.lease('a', 2).leases.map(l => l.id)).toEqual([0, 1])
    expect(c.lease('a', 4).leases).toEqual([{ id: 2, step: 1 }, { id: 3, step: 1 }])
    expect(c.lease('a', 4).leases).toEqual([]) // step 2 waits until step 0 closes
    c.complete('a', 2) // a step-1 microbatch may finish first
    expect(c.step).toBe(0)
    c.complete('a', 0); c.complete('a', 1)
    expect(c.step).toBe(1)
    expect(c.lease('a', 4).leases.map(l => l.id)).toEqual([4, 5])
    c.complete('a', 3)
    expect(c.step).toBe(2)
    c.complete('a', 4); c.complete('a', 5)
    expect(c.done).toBe(true)
    expect(c.lease('a', 4).leases).toEqual([])
    expect(c.status().microbatches).toMatchObject({ scheduled: 6, completed: 6, lost: 0, in_flight: 0 })
  })

  it('L = 1 under loss: a released or expired lease of step k goes out again before any of step k+1', () => {
    const c = make({ lookahead: 1, accumulation: 3 })
    c.lease('a', 3)
    c.release('a', 1)
    expect(c.lease('a', 2).leases.map(l => l.id)).toEqual([1, 3]) // the re-run first, then step 1
    c.leave('a') // a crash: every lease returns to the pool
    c.join('b'); c.heartbeat('b')
    expect(c.lease('b', 8).leases.map(l => l.id)).toEqual([0, 1, 2, 3, 4, 5])
    for (const id of [0, 1, 2, 3, 4, 5]) c.complete('b', id)
    expect(c.step).toBe(2)
    expect(c.status().microbatches).toMatchObject({ completed: 6, lost: 0 })
  })

  it('counts a loss of a lookahead microbatch toward its own step', () => {
    const c = make({ lookahead: 1 })
    c.lease('a', 4)
    c.reportLoss('a', 2, 4)
    c.reportLoss('a', 3, 2)
    c.reportLoss('a', 0, 1); c.reportLoss('a', 1, 1)
    for (const id of [0, 1, 2, 3]) c.complete('a', id)
    expect(c.status().losses).toEqual([{ step: 0, loss: 1, microbatches: 2 }, { step: 1, loss: 3, microbatches: 2 }])
  })

  it('refuses a negative or fractional lookahead', () => {
    expect(() => make({ lookahead: -1 })).toThrow()
    expect(() => make({ lookahead: 0.5 })).toThrow()
  })
})

describe('stage assignment by GPU and uplink', () => {
  it('counts a replica as the slower of its GPU and its uplink', () => {
    // Equal work; stage 1 moves 10× the bytes of stage 0 per microbatch.
    const c = new Coordinator({ stages: 2, accumulation: 1, totalSteps: 1, stageWork: [100, 100], stageBytes: [10, 100], now: () => 0 })
    expect(c.join('a', { throughput: 1000, bandwidth: 1000 }).stage).toBe(0) // both empty → the first
    // Stage 0 has min(1000/100, 1000/10) = 10 mb/s, stage 1 none.
    expect(c.join('b', { throughput: 1000, bandwidth: 1000 }).stage).toBe(1)
    // Stage 1 has min(10, 1000/100) = 10: a tie, so the first stage.
    expect(c.join('c', { throughput: 1e6, bandwidth: 100 }).stage).toBe(0)
    // A fast GPU behind a slow uplink: stage 0 gained min(1e4, 100/10) = 10 (20 in all), stage 1
    // still has 10, so the next tab goes to stage 1, though c's GPU alone is worth 1,000× more.
    expect(c.join('d', { throughput: 1000 }).stage).toBe(1)
  })
})

describe('straggler backups', () => {
  it('hands a long-late microbatch of the open step to a second stage-0 tab; the first completion wins', () => {
    let t = 0
    const c = new Coordinator({ stages: 1, accumulation: 5, totalSteps: 2, stageWork: [1], now: () => t })
    for (const p of ['a', 'b']) { c.join(p); c.heartbeat(p) }
    expect(c.lease('a', 5).leases.map(l => l.id)).toEqual([0, 1, 2, 3, 4])
    t = 100
    for (const id of [0, 1, 2, 3]) c.complete('a', id) // four round trips of 100 ms
    expect(c.lease('b', 2).leases).toEqual([]) // id 4 is late, but not yet 3 × 100 ms
    t = 350
    expect(c.lease('a', 2).leases).toEqual([]) // never a backup to the tab that holds it
    expect(c.lease('b', 2).leases).toEqual([{ id: 4, step: 0 }])
    expect(c.lease('b', 2).leases).toEqual([]) // one backup per microbatch
    expect(c.complete('b', 4)).toBe(true)
    expect(c.complete('a', 4)).toBe(false) // the original's late completion is not credited twice
    expect(c.step).toBe(1)
    expect(c.status().microbatches).toMatchObject({ completed: 5, retried: 1, lost: 0 })
  })
})
