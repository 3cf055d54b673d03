import { describe, expect, it } from 'vitest'
import { LeasePump } from './lease-pump.ts'
import type { Lease, LeaseReply } from '../../protocol/swarm.ts'
import type { Clock } from './clock.ts'
import { flush } from './test-fakes.ts'

/** A clock whose timers fire only when the test says. */
function timers (): Clock & { fire: () => void, pending: () => number } {
  let list: Array<() => void> = []
  return {
    now: () => 0,
    after: (_ms, fn) => { list.push(fn); return fn },
    cancel: h => { list = list.filter(f => f !== h) },
    sleep: async () => {},
    fire: () => { const l = list; list = []; for (const f of l) f() },
    pending: () => list.length
  }
}

function setup (opts: { slots?: number, window?: number, tracker?: (max: number) => Promise<LeaseReply> } = {}) {
  const clock = timers()
  let free = opts.slots ?? 2
  const started: number[] = []
  const released: number[] = []
  const asked: number[] = []
  let nextId = 0
  const pump = new LeasePump({
    clock, window: opts.window ?? 4,
    lease: opts.tracker ?? (async max => { asked.push(max); const leases: Lease[] = []; for (let i = 0; i < max; i++) leases.push({ id: nextId++, step: 0 }); return { step: 0, leases } }),
    release: async id => { released.push(id) },
    freeSlots: () => free,
    canStart: () => true,
    start: l => { started.push(l.id); free-- },
    onStep: () => {}
  })
  return { pump, clock, started, released, asked, freeSlot: () => { free++; pump.kick() } }
}

describe('LeasePump', () => {
  it('leases one microbatch per free slot, and no more', async () => {
    const t = setup({ slots: 2 })
    t.pump.kick()
    await flush()
    expect(t.asked).toEqual([2])
    expect(t.started).toEqual([0, 1])
    t.pump.kick()
    await flush()
    expect(t.asked).toEqual([2]) // no free slot: no request
  })

  it('in steady state the completion reply brings the next lease: no separate request', async () => {
    const t = setup({ slots: 1 })
    t.pump.kick()
    await flush()
    expect(t.asked).toEqual([1])
    t.pump.expect() // a completion went out
    t.freeSlot() // its slot freed before the reply came
    await flush()
    expect(t.asked).toEqual([1]) // waiting for the reply, not asking
    t.pump.reply({ step: 0, leases: [{ id: 42, step: 0 }] })
    expect(t.started).toEqual([0, 42])
    expect(t.pump.requests).toBe(1)
  })

  it('holds granted leases beyond free slots, starts them as slots free, and gives them back on stop', async () => {
    const t = setup({ slots: 0 })
    t.pump.grant({ step: 0, leases: [{ id: 5, step: 0 }, { id: 6, step: 0 }] })
    expect(t.pump.held).toBe(2)
    t.freeSlot()
    expect(t.started).toEqual([5])
    await t.pump.stop()
    expect(t.released).toEqual([6])
  })

  it('a pause hands back what was granted ahead and keeps the pump going: in-flight work alone finishes', async () => {
    const t = setup({ slots: 0 })
    t.pump.grant({ step: 0, leases: [{ id: 7, step: 0 }, { id: 8, step: 0 }] })
    expect(t.pump.grantedIds).toEqual([7, 8])
    await t.pump.releaseGranted()
    expect(t.released).toEqual([7, 8])
    expect(t.pump.held).toBe(0)
    t.freeSlot() // not stopped: a later grant still starts
    t.pump.grant({ step: 0, leases: [{ id: 9, step: 0 }] })
    expect(t.started).toEqual([9])
  })

  it('under loss (tracker errors, empty replies) backs off on a timer and then asks again; nothing is lost', async () => {
    let calls = 0
    const t = setup({
      slots: 1,
      tracker: async () => {
        calls++
        if (calls === 1) throw new Error('tracker restarting')
        if (calls === 2) return { step: 3, leases: [] }
        return { step: 3, leases: [{ id: 9, step: 3 }] }
      }
    })
    t.pump.kick()
    await flush()
    expect(t.started).toEqual([])
    expect(t.clock.pending()).toBe(1) // a retry timer, not a poll loop
    t.pump.kick() // events during the backoff do not hammer the tracker
    await flush()
    expect(calls).toBe(1)
    t.clock.fire()
    await flush()
    expect(calls).toBe(2)
    t.clock.fire()
    await flush()
    expect(t.started).toEqual([9])
  })

  it('a failed completion settles, so the pump asks for itself again', async () => {
    const t = setup({ slots: 1 })
    t.pump.expect()
    t.pump.kick()
    await flush()
    expect(t.asked).toEqual([])
    t.pump.settle()
    await flush()
    expect(t.asked).toEqual([1])
  })
})
