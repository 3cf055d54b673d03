import { describe, expect, it } from 'vitest'
import { StageCompute, slotsFor } from './stage-compute.ts'
import { systemClock } from './clock.ts'
import { deferred, flush, recordingKernels } from './test-fakes.ts'

describe('StageCompute', () => {
  it('runs a ready backward before queued forwards (1F1B), and forwards in arrival order', async () => {
    const k = recordingKernels()
    const gate = deferred()
    let hold = false
    const c = new StageCompute({ kernels: { ...k, forward: async (i, t, s) => { if (hold) { hold = false; await gate.promise } return await k.forward(i, t, s) } }, slots: 4, clock: systemClock })
    c.trace = []
    await c.forward(5, new Float32Array([5]))
    hold = true
    const busy = c.forward(0, new Float32Array([0])) // holds the GPU until the gate opens
    await flush()
    const f1 = c.forward(1, new Float32Array([1]))
    const f2 = c.forward(2, new Float32Array([2]))
    const b5 = c.backward(5, new Float32Array([9]), { input: new Float32Array([5]) })
    const step = c.exclusive('S0', async g => { await g.step({ lr: 1 }) })
    gate.resolve()
    await Promise.all([busy, f1, f2, b5, step])
    expect(c.trace).toEqual(['F5', 'F0', 'B5', 'S0', 'F1', 'F2'])
  })

  it('keeps one slot per microbatch between forward and backward, and frees it after', async () => {
    const k = recordingKernels()
    let freed = 0
    const c = new StageCompute({ kernels: k, slots: 2, clock: systemClock, onSlotFreed: () => { freed++ } })
    expect(c.freeSlots).toBe(2)
    await c.forward(7, new Float32Array([1]))
    expect(c.freeSlots).toBe(1)
    expect(c.holds(7)).toBe(true)
    await c.forward(8, new Float32Array([2]))
    expect(c.freeSlots).toBe(0)
    const d = await c.backward(7, new Float32Array([0]), { input: new Float32Array([1]) })
    expect(Array.from(d!)).toEqual([1]) // slot 7's saved input came back: no mix-up between slots
    expect(c.freeSlots).toBe(1)
    expect(freed).toBe(1)
    expect(c.recomputes).toBe(0)
    expect(k.calls).toEqual(['forward@0', 'forward@1', 'backward@0'])
  })

  it('evicts the oldest holder when all slots are taken; its backward recomputes from the kept input', async () => {
    const k = recordingKernels()
    const c = new StageCompute({ kernels: k, slots: 1, clock: systemClock })
    await c.forward(1, new Float32Array([10]))
    await c.forward(2, new Float32Array([20])) // evicts 1
    expect(c.holds(1)).toBe(false)
    const d1 = await c.backward(1, new Float32Array([0]), { input: new Float32Array([10]) })
    expect(Array.from(d1!)).toEqual([10])
    expect(c.recomputes).toBe(1)
  })

  it('runs spot checks in the spare slot K, never in a microbatch\'s slot', async () => {
    const k = recordingKernels()
    const c = new StageCompute({ kernels: k, slots: 3, clock: systemClock })
    await c.forward(1, new Float32Array([1]))
    await c.spot(new Float32Array([5]))
    expect(k.calls).toEqual(['forward@0', 'spot@3'])
    expect(c.holds(1)).toBe(true)
  })

  it('sizes slots from the memory budget, at least one', () => {
    expect(slotsFor(100, 1000, 64)).toBe(10)
    expect(slotsFor(100, 1000, 4)).toBe(4)
    expect(slotsFor(5000, 1000, 4)).toBe(1)
  })

  it('fails queued jobs with StoppedError after stop', async () => {
    const k = recordingKernels()
    const gate = deferred()
    const c = new StageCompute({ kernels: { ...k, forward: async (i, t, s) => { await gate.promise; return await k.forward(i, t, s) } }, slots: 2, clock: systemClock })
    const running = c.forward(1, new Float32Array([1]))
    const queued = c.forward(2, new Float32Array([2]))
    await flush()
    c.stop()
    await expect(queued).rejects.toMatchObject({ name: 'StoppedError' })
    gate.resolve()
    await running
  })
})

describe('StageCompute slot promises', () => {
  it('counts a queued forward and a reservation against free slots before they run', async () => {
    const k = recordingKernels()
    const gate = deferred()
    let hold = true
    const c = new StageCompute({ kernels: { ...k, forward: async (i, t, s) => { if (hold) { hold = false; await gate.promise } return await k.forward(i, t, s) } }, slots: 3, clock: systemClock })
    const busy = c.forward(1, new Float32Array([1]))
    const queued = c.forward(2, new Float32Array([2]))
    c.reserve(3)
    expect(c.freeSlots).toBe(0) // 1 runs (holds a slot), 2 is promised one, 3 holds one
    gate.resolve()
    await Promise.all([busy, queued])
    await c.forward(3, new Float32Array([3])) // uses its reserved slot: no eviction
    expect(c.recomputes).toBe(0)
    expect([1, 2, 3].every(mb => c.holds(mb))).toBe(true)
  })
})

describe('StageCompute beyond its slots (capacity)', () => {
  it('holds more microbatches than slots without evicting anyone; the extra ones recompute', async () => {
    const k = recordingKernels()
    const c = new StageCompute({ kernels: k, slots: 2, capacity: 3, clock: systemClock })
    for (const mb of [1, 2, 3]) c.reserve(mb)
    expect(c.freeSlots).toBe(0)
    for (const mb of [1, 2, 3]) await c.forward(mb, new Float32Array([mb]))
    expect([1, 2].every(mb => c.holds(mb))).toBe(true)
    expect(c.holds(3)).toBe(false) // ran in the spare slot 2
    expect(k.calls).toEqual(['forward@0', 'forward@1', 'forward@2'])
    expect(Array.from((await c.backward(3, new Float32Array([0]), { input: new Float32Array([3]) }))!)).toEqual([3])
    expect(c.recomputes).toBe(1)
    await c.backward(1, new Float32Array([0]), { input: new Float32Array([1]) })
    expect(c.recomputes).toBe(1)
    expect(c.freeSlots).toBe(2)
  })
})
