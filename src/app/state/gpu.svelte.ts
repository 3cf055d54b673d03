// What this tab's GPU is, as seen from the compute worker (where training runs).
import { startComputeWorker } from '../../worker/client.ts'
import type { ProbeResult } from '../../worker/protocol.ts'
import type { DeviceLoss } from '../../gpu/device.ts'
import { proxy } from 'comlink'

class GpuState {
  probe = $state.raw<ProbeResult | null>(null)
  #worker: ReturnType<typeof startComputeWorker> | undefined
  readonly #lossListeners = new Set<(loss: DeviceLoss) => void>()

  get worker (): ReturnType<typeof startComputeWorker> {
    if (this.#worker == null) {
      this.#worker = startComputeWorker()
      void this.#worker.api.onDeviceLost(proxy((loss: DeviceLoss) => {
        for (const l of this.#lossListeners) l(loss)
      }))
    }
    return this.#worker
  }

  /** Calls `listener` on every device loss; returns the unsubscribe. */
  onDeviceLost (listener: (loss: DeviceLoss) => void): () => void {
    this.#lossListeners.add(listener)
    return () => { this.#lossListeners.delete(listener) }
  }

  async detect (): Promise<ProbeResult> {
    // Browsers hide WebGPU (and crypto.subtle) outside a secure context: say so, not "no WebGPU".
    if (typeof window !== 'undefined' && !window.isSecureContext) {
      this.probe = { type: 'no-webgpu', reason: `This page needs HTTPS: browsers allow WebGPU only on https:// pages (or on localhost). Open https://${location.host}${location.pathname}${location.hash}, or ask the campaign's host to serve it over HTTPS.` }
      return this.probe
    }
    if (typeof navigator === 'undefined' || !('gpu' in navigator)) {
      this.probe = { type: 'no-webgpu', reason: 'This browser has no WebGPU. It is in Chrome and Edge 113 or later, Safari 26 or later and Firefox 141 or later (Windows); on Linux, Chrome needs it enabled in chrome://flags.' }
      return this.probe
    }
    this.probe = await this.worker.api.probe()
    return this.probe
  }
}

export const gpu = new GpuState()
