// Helpers shared by the kernel tests (test code only: it imports vitest).
import { expect } from 'vitest'
import { compareClose, describeClose } from './numerics.ts'

/** Records one compute pass, submits it, and fails with the validation error if there is one. */
export async function runPass (device: GPUDevice, label: string, record: (pass: GPUComputePassEncoder) => void): Promise<void> {
  device.pushErrorScope('validation')
  const enc = device.createCommandEncoder({ label })
  const pass = enc.beginComputePass({ label })
  record(pass)
  pass.end()
  device.queue.submit([enc.finish()])
  const err = await device.popErrorScope()
  if (err != null) throw new Error(`${label}: ${err.message}`)
}

export const f64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a)

/** Asserts `got` is within tolerance of `want`; the failure message names the worst element. */
export function expectClose (name: string, got: ArrayLike<number>, want: ArrayLike<number>, rtol = 1e-4, atol = 1e-5): void {
  const r = compareClose(got, want, { rtol, atol })
  expect(r.ok, describeClose(name, r)).toBe(true)
}
