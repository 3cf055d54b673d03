// In-memory stand-ins for the unit tests of the swarm runtime's parts (no browser, no GPU).
import type { StageKernels } from './stage-compute.ts'

/** A promise with its resolver outside, to hold a fake GPU job until the test lets it go. */
export function deferred<T = void> (): { promise: Promise<T>, resolve: (v: T) => void, reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

/** Lets pending promise callbacks run. */
export async function flush (): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve()
}

export interface KernelLog { calls: string[] }

/**
 * Kernels whose every call is logged as `forward@slot` etc. Forward outputs are the input plus
 * one, so tests can follow a tensor; backward returns the slot's saved input as d(input).
 */
export function recordingKernels (opts: { last?: boolean } = {}): StageKernels & KernelLog {
  const saved = new Map<number, Float32Array>()
  const calls: string[] = []
  let params = new Float32Array([1, 2, 3, 4])
  return {
    calls,
    async forward (input, _targets, slot) {
      calls.push(`forward@${slot}`)
      const x = Float32Array.from(input)
      saved.set(slot, x)
      return { output: opts.last === true ? null : x.map(v => v + 1), loss: opts.last === true ? 2.5 : null }
    },
    async backward (_d, slot) {
      calls.push(`backward@${slot}`)
      const x = saved.get(slot)
      if (x == null) throw new Error(`backward on empty slot ${slot}`)
      saved.delete(slot)
      return { dInput: x }
    },
    async step () { calls.push('step') },
    async zeroGrad () { calls.push('zeroGrad') },
    async spotRun (input, _t, slot) { calls.push(`spot@${slot}`); return { output: Float32Array.from(input) } },
    async exportParams () { calls.push('export'); return params.slice() },
    async importParams (p) { calls.push('import'); params = p.slice() }
  }
}
