// Test builds only (`vite build --mode faults`, into dist-faults/): a cheating compute worker for
// the verification tests. It wraps the page's handle on the worker so that forward, backward and
// spot runs hand over garbage instead of what the GPU computed, and puts the switch on
// `window.__tabgradCheat`. The production build never includes this file, not even in its source
// maps: only faults-entry.ts imports it, and only a `--mode faults` build adds that entry to the
// page (vite.config.ts); e2e/no-test-code.spec.ts greps dist/ to prove it.
import type { Remote } from 'comlink'
import type { ComputeApi } from './protocol.ts'

/** `zeros`: all-zero tensors; `noise`: uniform noise in ±0.1. */
export type CheatMode = 'none' | 'zeros' | 'noise'

/** Results whose tensors a cheater replaces (forward's output, backward's dInput, spotRun's output). */
const FAKED = new Set(['forward', 'backward', 'spotRun'])

function garbage (like: Float32Array, mode: CheatMode): Float32Array {
  const out = new Float32Array(like.length)
  if (mode === 'noise') for (let i = 0; i < out.length; i++) out[i] = (Math.random() * 2 - 1) * 0.1
  return out
}

function faulty (api: Remote<ComputeApi>, mode: () => CheatMode): Remote<ComputeApi> {
  return new Proxy(api, {
    get (target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown
      if (typeof prop !== 'string' || !FAKED.has(prop) || typeof value !== 'function') return value
      return async (...args: unknown[]) => {
        const result = await (value as (...a: unknown[]) => Promise<Record<string, unknown>>)(...args)
        const m = mode()
        if (m === 'none' || result == null) return result
        for (const key of ['output', 'dInput']) {
          const t = result[key]
          if (t instanceof Float32Array) result[key] = garbage(t, m)
        }
        return result
      }
    }
  })
}

interface WorkerHandle { api: Remote<ComputeApi> }

/**
 * Shadows `holder.worker` (a getter on its class) with one whose `api` cheats once
 * `window.__tabgradCheat(mode)` is called.
 */
export function installFaults<H extends WorkerHandle> (holder: { worker: H }): void {
  let mode: CheatMode = 'none'
  const getter = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(holder), 'worker')?.get
  if (getter == null) throw new Error('installFaults: worker is not a getter')
  let wrapped: { of: H, value: H } | undefined
  Object.defineProperty(holder, 'worker', {
    configurable: true,
    get () {
      const w = getter.call(holder) as H
      if (wrapped?.of !== w) {
        const api = faulty(w.api, () => mode)
        // Everything but `api` is the real handle's, methods bound to it (it may be a class with private fields).
        const value = new Proxy(w, { get: (t, p) => { if (p === 'api') return api; const v = Reflect.get(t, p, t) as unknown; return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v } })
        wrapped = { of: w, value }
      }
      return wrapped.value
    }
  })
  Object.assign(globalThis, { __tabgradCheat: async (m: CheatMode) => { mode = m } })
}
