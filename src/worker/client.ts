// Starts the compute worker and wraps it with comlink; and the page's unthrottled sleep.
import * as Comlink from 'comlink'
import type { ComputeApi } from './protocol.ts'

export function startComputeWorker (): { api: Comlink.Remote<ComputeApi>, terminate(): void } {
  const worker = new Worker(new URL('./compute.worker.ts', import.meta.url), { type: 'module', name: 'tabgrad-compute' })
  return { api: Comlink.wrap<ComputeApi>(worker), terminate: () => worker.terminate() }
}

let timer: Worker | null | undefined
const waiting = new Map<number, () => void>()
let nextId = 0

/** Resolves after `ms`, on time even while the tab is hidden (the timer runs in a worker). */
export function unthrottledSleep (ms: number): Promise<void> {
  if (timer === undefined) {
    try {
      timer = new Worker(new URL('./timer.worker.ts', import.meta.url), { type: 'module', name: 'tabgrad-timer' })
      timer.onmessage = (e: MessageEvent<number>) => { waiting.get(e.data)?.(); waiting.delete(e.data) }
    } catch {
      timer = null
    }
  }
  if (timer == null) return new Promise(resolve => setTimeout(resolve, ms))
  const id = nextId++
  return new Promise(resolve => {
    waiting.set(id, resolve)
    timer!.postMessage({ id, ms })
  })
}
