// The test build's fault injection, driven through the same handle shape the app uses
// (gpu.worker.api): results pass untouched until the switch is flipped, then carry garbage.
import { expect, it } from 'vitest'
import type { Remote } from 'comlink'
import { installFaults, type CheatMode } from './faults.ts'
import type { ComputeApi } from './protocol.ts'

class Holder {
  readonly #real = {
    api: {
      forward: async () => ({ output: Float32Array.of(1, 2, 3), loss: 2.5, ms: 1 }),
      backward: async () => ({ dInput: Float32Array.of(4, 5), ms: 1 }),
      spotRun: async () => ({ output: Float32Array.of(6), ms: 1 }),
      step: async () => ({ ms: 1, stepCount: 1 })
    } as unknown as Remote<ComputeApi>,
    terminate: () => 'terminated'
  }

  get worker (): { api: Remote<ComputeApi>, terminate: () => string } { return this.#real }
}

it('passes results through until __tabgradCheat, then hands over zeros or noise', async () => {
  const holder = new Holder()
  installFaults(holder)
  const cheat = (globalThis as unknown as { __tabgradCheat: (m: CheatMode) => Promise<void> }).__tabgradCheat
  const api = holder.worker.api
  expect((await api.forward(new Float32Array(1))).output).toEqual(Float32Array.of(1, 2, 3))
  expect(holder.worker.terminate()).toBe('terminated')
  await cheat('zeros')
  expect((await api.forward(new Float32Array(1))).output).toEqual(new Float32Array(3))
  expect((await api.backward(new Float32Array(1))).dInput).toEqual(new Float32Array(2))
  expect((await api.forward(new Float32Array(1))).loss).toBe(2.5)
  await cheat('noise')
  const noise = (await api.spotRun(new Float32Array(1))).output
  expect(noise).toHaveLength(1)
  expect(Math.abs(noise[0])).toBeLessThanOrEqual(0.1)
  expect((await api.step({} as never)).stepCount).toBe(1)
  await cheat('none')
  expect((await api.spotRun(new Float32Array(1))).output).toEqual(Float32Array.of(6))
})
