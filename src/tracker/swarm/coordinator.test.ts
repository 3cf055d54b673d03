import { describe, expect, it } from 'vitest'
import { Coordinator, type CoordinatorInit } from './coordinator.ts'

function make (over: Partial<CoordinatorInit> = {}): { c: Coordinator, clock: { t: number } } {
  const clock = { t: 1000 }
  const c = new Coordinator({ stages: 2, accumulation: 4, totalSteps: 3, stageWork: [100, 100], now: () => clock.t, tabTimeoutMs: 10_000, leaseTimeoutMs: 60_000, ...over })
  return { c, clock }
}

describe('stage assignment', () => {
  it('fills the stage with least throughput per unit of work', () => {
    const { c } = make({ stageWork: [100, 300] })
    expect(c.join('a', { throughput: 1000 }).stage).toBe(0) // tie at 0 → first stage
    expect(c.join('b', { throughput: 1000 }).stage).toBe(1)
    // stage 0: 1000/100 = 10, stage 1: 1000/300 = 3.3 → stage 1 needs more
    expect(c.join('c', { throughput: 1000 }).stage).toBe(1)
    expect(c.join('d', { throughput: 1000 }).stage).toBe(1) // 2000/300 = 6.7 < 10
    expect(c.join('e', { throughput: 1000 }).stage).toBe(0) // 3000/300 = 10 = 10 → first
  })

  it('resumes a returning tab on its old stage, and honours a stored stage hint', () => {
    const { c, clock } = make()
    c.join('a'); expect(c.join('b').stage).toBe(1)
    clock.t += 20_000
    c.expire()
    expect(c.tab('b')).toBeUndefined()
    expect(c.join('b').stage).toBe(1)
    expect(c.join('x', { stage: 1 }).stage).toBe(1)
    expect(c.join('y', { stage: 9 }).stage).toBe(0) // out of range → assigned
  })
})

describe('routing', () => {
  it('lists a replica only once it has sent a heartbeat (its protocols are up), and never an excluded one', () => {
    const { c } = make()
    c.join('a'); c.join('b'); c.join('c', { stage: 1 })
    expect(c.replicas(1)).toEqual([])
    c.heartbeat('b')
    expect(c.replicas(1)).toEqual(['b'])
    c.heartbeat('c')
    expect(c.replicas(1)).toEqual(['b', 'c'])
    c.heartbeat('b', { paused: 1 })
    expect(c.replicas(1)).toEqual(['c'])
    c.heartbeat('b', { paused: 0 })
    c.exclude('c')
    expect(c.replicas(1)).toEqual(['b'])
  })
})

describe('microbatch leases', () => {
  it('leases the open step only to stage 0, completes once, and opens the next step when all are done', () => {
    const { c } = make()
    c.join('s0'); c.join('s1')
    expect(() => c.lease('s1')).toThrowError(expect.objectContaining({ name: 'NotStageZeroError' }))
    expect(() => c.lease('nobody')).toThrowError(expect.objectContaining({ name: 'UnknownTabError' }))
    const first = c.lease('s0', 3)
    expect(first).toEqual({ step: 0, leases: [{ id: 0, step: 0 }, { id: 1, step: 0 }, { id: 2, step: 0 }] })
    expect(c.lease('s0', 3).leases.map(l => l.id)).toEqual([3])
    expect(c.lease('s0', 3).leases).toEqual([]) // step 0 fully leased; step 1 not open yet
    for (const id of [0, 1, 2]) { c.reportLoss('s1', id, 5 + id); expect(c.complete('s0', id)).toBe(true) }
    expect(c.complete('s0', 1)).toBe(false) // duplicate: not credited twice
    expect(c.step).toBe(0)
    c.reportLoss('s1', 3, 8)
    expect(c.complete('s0', 3)).toBe(true)
    expect(c.step).toBe(1)
    expect(c.status().losses).toEqual([{ step: 0, loss: 6.5, microbatches: 4 }])
    expect(c.lease('s0', 8).leases.map(l => l.id)).toEqual([4, 5, 6, 7])
  })

  it('counts the loss a completion carries before the step closes, once per microbatch', () => {
    const { c } = make()
    c.join('s0'); c.join('s1')
    c.lease('s0', 4)
    for (const id of [0, 1, 2]) expect(c.complete('s0', id, 5 + id)).toBe(true)
    c.reportLoss('s1', 2, 100) // the same microbatch's loss again: already counted
    expect(c.complete('s0', 1, 100)).toBe(false) // a duplicate completion adds no loss
    expect(c.complete('s0', 3, 8)).toBe(true) // the last one closes the step with its own loss in
    expect(c.status().losses).toEqual([{ step: 0, loss: 6.5, microbatches: 4 }])
    c.reportLoss('s1', 3, 100) // late: step 0 is closed
    expect(c.status().losses).toEqual([{ step: 0, loss: 6.5, microbatches: 4 }])
  })

  it('re-leases the microbatches of a tab that died, counts them as retried, and loses none', () => {
    const { c, clock } = make()
    c.join('a'); c.join('s1'); c.join('b', { stage: 0 })
    expect(c.lease('a', 2).leases.map(l => l.id)).toEqual([0, 1])
    expect(c.lease('b', 2).leases.map(l => l.id)).toEqual([2, 3])
    c.complete('a', 0)
    clock.t += 8_000
    c.heartbeat('b'); c.heartbeat('s1')
    clock.t += 8_000 // 'a' silent for 16 s
    c.heartbeat('b')
    expect(c.tab('a')).toBeUndefined()
    expect(c.lease('b', 4).leases.map(l => l.id)).toEqual([1])
    for (const id of [1, 2, 3]) c.complete('b', id)
    const s = c.status()
    expect(s.step).toBe(1)
    expect(s.microbatches).toMatchObject({ scheduled: 4, completed: 4, retried: 1, lost: 0 })
  })

  it('re-leases a stuck lease after its deadline, and a released one at once', () => {
    const { c, clock } = make({ leaseTimeoutMs: 5_000, tabTimeoutMs: 60_000 })
    c.join('a'); c.join('s1')
    c.lease('a', 1)
    clock.t += 6_000
    expect(c.lease('a', 1).leases.map(l => l.id)).toEqual([0])
    c.release('a', 0)
    expect(c.lease('a', 1).leases.map(l => l.id)).toEqual([0])
    expect(c.status().microbatches.retried).toBe(2)
  })

  it('stops leasing after the last step', () => {
    const { c } = make({ totalSteps: 1, accumulation: 2 })
    c.join('a'); c.join('s1')
    for (const l of c.lease('a', 2).leases) c.complete('a', l.id)
    expect(c.done).toBe(true)
    expect(c.lease('a', 2).leases).toEqual([])
    expect(c.status()).toMatchObject({ step: 1, done: true, microbatches: { scheduled: 2, completed: 2, lost: 0 } })
  })
})

describe('lease holders and restarts', () => {
  it('only a peer the microbatch was leased to completes it; a backup holder may too', () => {
    const { c } = make()
    c.join('a'); c.join('b'); c.join('thief', { stage: 0 })
    expect(c.lease('a', 1).leases).toEqual([{ id: 0, step: 0 }])
    expect(() => c.complete('thief', 0)).toThrow(expect.objectContaining({ name: 'NotLeaseHolderError' }))
    expect(() => c.complete('thief', 1)).toThrow(expect.objectContaining({ name: 'NotLeaseHolderError' })) // never leased at all
    expect(c.complete('a', 0)).toBe(true)
    expect(c.complete('a', 0)).toBe(false)
    expect(c.status().microbatches.completed).toBe(1)
  })

  it('rebuilds the step and done set from the credited ids, and credits forgotten leases only for one lease period', () => {
    const credited = new Set([0, 1, 2, 3, 5])
    const { c } = make()
    c.restoreDone(id => credited.has(id))
    expect(c.step).toBe(1)
    c.join('a')
    expect(c.lease('a', 4).leases.map(l => l.id)).toEqual([4, 6, 7])
    expect(c.complete('a', 5)).toBe(false) // already credited
    const { c: d, clock } = make()
    d.restoreDone(id => credited.has(id))
    d.join('a')
    expect(d.complete('a', 4)).toBe(true) // leased by the old process, still in flight
    clock.t += 60_001
    expect(() => d.complete('a', 6)).toThrow(expect.objectContaining({ name: 'NotLeaseHolderError' }))
    const { c: fresh } = make()
    fresh.restoreDone(() => false)
    fresh.join('a')
    expect(() => fresh.complete('a', 0)).toThrow(expect.objectContaining({ name: 'NotLeaseHolderError' }))
  })
})
