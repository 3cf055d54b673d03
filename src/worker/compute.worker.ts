// The compute worker: all GPU work of a tab runs here, behind comlink.
import * as Comlink from 'comlink'
import { requestTabgradDevice, type TabgradDevice } from '../gpu/device.ts'
import type { ComputeApi, ProbeResult } from './protocol.ts'

let gpu: Promise<TabgradDevice> | undefined

const api: ComputeApi = {
  async probe (): Promise<ProbeResult> {
    try {
      gpu ??= requestTabgradDevice()
      const { summary } = await gpu
      return { type: 'ok', adapter: summary, inWorker: true }
    } catch (err) {
      gpu = undefined
      return { type: 'no-webgpu', reason: (err as Error).message }
    }
  }
}

Comlink.expose(api)
