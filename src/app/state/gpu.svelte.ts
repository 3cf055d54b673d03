// What this tab's GPU is, as seen from the compute worker (where training runs).
import { startComputeWorker } from '../../worker/client.ts'
import type { ProbeResult } from '../../worker/protocol.ts'

class GpuState {
  probe = $state.raw<ProbeResult | null>(null)
  #worker: ReturnType<typeof startComputeWorker> | undefined

  get worker (): ReturnType<typeof startComputeWorker> {
    this.#worker ??= startComputeWorker()
    return this.#worker
  }

  async detect (): Promise<ProbeResult> {
    if (typeof navigator === 'undefined' || !('gpu' in navigator)) {
      this.probe = { type: 'no-webgpu', reason: 'This browser has no WebGPU.' }
      return this.probe
    }
    this.probe = await this.worker.api.probe()
    return this.probe
  }
}

export const gpu = new GpuState()
