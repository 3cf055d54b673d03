// The compute worker's API, as the main thread sees it through comlink.
import type { AdapterSummary } from '../gpu/device.ts'

export type ProbeResult =
  | { type: 'ok', adapter: AdapterSummary, inWorker: true }
  | { type: 'no-webgpu', reason: string }

export interface ComputeApi {
  /** Finds the GPU from inside the worker (where the training runs), with its limits and features. */
  probe(): Promise<ProbeResult>
}
