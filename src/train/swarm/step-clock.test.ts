import { describe, expect, it } from 'vitest'
import { StepClock } from './step-clock.ts'
import { StageCompute } from './stage-compute.ts'
import { systemClock } from './clock.ts'
import { deferred, flush, recordingKernels } from './test-fakes.ts'

const training = { lr: 1e-3, lr_schedule: 'constant' as const, warmup_steps: 0, steps: 100, weight_decay: 0, grad_clip: 1 }

function setup (onStepped?: (step: number, n: number) => Promise<void> | void) {
  const k = recordingKernels()
  const scales: number[] = []
  const kernels = { ...k, step: async (o: { gradScale?: number }) => { scales.push(o.gradScale ?? 1); await k.step({ lr: 0 }) } }
  const c = new StageCompute({ kernels, slots: 2, clock: systemClock })
  const clock = new StepClock({ exclusive: c.exclusive.bind(c), training, ...(onStepped != null ? { onStepped } : {}) })
  return { k, c, clock, scales }
}

describe('StepClock', () => {
  it('applies steps in order, each on the mean of the microbatches accumulated since the last', async () => {
    const stepped: Array<[number, number]> = []
    const { clock, scales, k } = setup((s, n) => { stepped.push([s, n]) })
    clock.accumulate(); clock.accumulate()
    await clock.advanceTo(1)
    clock.accumulate(); clock.accumulate(); clock.accumulate(); clock.accumulate()
    await clock.advanceTo(3) // step 1 has 4 microbatches; step 2 none: no GPU step, the counter still moves
    expect(clock.applied).toBe(3)
    expect(scales).toEqual([1 / 2, 1 / 4])
    expect(stepped).toEqual([[1, 2], [2, 4], [3, 0]])
    expect(k.calls.filter(c => c === 'step')).toHaveLength(2)
  })

  it('concurrent and repeated requests apply each step once', async () => {
    const { clock, scales } = setup()
    clock.accumulate()
    await Promise.all([clock.advanceTo(2), clock.advanceTo(1), clock.advanceTo(2)])
    expect(clock.applied).toBe(2)
    expect(scales).toEqual([1])
  })

  it('holds the next step until the previous step\'s sync settles, without blocking the caller', async () => {
    const sync = deferred()
    const { clock } = setup(s => s === 1 ? sync.promise : undefined)
    clock.accumulate()
    await clock.advanceTo(1)
    expect(clock.applied).toBe(1)
    clock.accumulate()
    const second = clock.advanceTo(2)
    await flush()
    expect(clock.applied).toBe(1) // waiting on the sync of step 1
    sync.resolve()
    await second
    expect(clock.applied).toBe(2)
  })

  it('starts from the step of loaded weights', async () => {
    const { clock } = setup()
    clock.reset(5)
    await clock.advanceTo(4)
    expect(clock.applied).toBe(5)
  })
})
