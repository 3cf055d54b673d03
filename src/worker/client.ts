// Starts the compute worker and wraps it with comlink.
import * as Comlink from 'comlink'
import type { ComputeApi } from './protocol.ts'

export function startComputeWorker (): { api: Comlink.Remote<ComputeApi>, terminate(): void } {
  const worker = new Worker(new URL('./compute.worker.ts', import.meta.url), { type: 'module', name: 'tabgrad-compute' })
  return { api: Comlink.wrap<ComputeApi>(worker), terminate: () => worker.terminate() }
}
