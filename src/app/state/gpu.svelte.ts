// What this tab's GPU is, as seen from the compute worker (where training runs).
import { startComputeWorker } from '../../worker/client.ts'
import type { CheatMode, ProbeResult } from '../../worker/protocol.ts'

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

// Test-only switch for the verification e2e (a cheating worker returns garbage). A volunteer
// who flips it only gets their own work flagged and uncredited.
if (typeof window !== 'undefined') {
  Object.assign(window, { __tabgradCheat: async (mode: CheatMode) => { await gpu.worker.api.setCheat(mode) } })
}
