// The compute API in-process on Node's WebGPU (Dawn): the same code the browser's compute worker
// runs, behind the same interface. GPU work is asynchronous in Dawn, so the event loop stays free
// for libp2p between dispatches; no worker thread is needed.
import type { Remote } from 'comlink'
import { createComputeApi } from '../worker/compute-api.ts'
import type { ComputeApi } from '../worker/protocol.ts'
import type { TabgradDevice } from '../gpu/device.ts'
import { requestNodeDevice } from '../node/webgpu.ts'

export interface NodeCompute {
  /** A plain object of async methods: what SwarmTab's `Remote<ComputeApi>` calls. */
  api: Remote<ComputeApi>
  /** Destroys the device, so no GPU work is left running when the process exits. */
  release(): void
}

export function createNodeCompute (): NodeCompute {
  let opened: TabgradDevice | null = null
  const api = createComputeApi(async () => (opened = await requestNodeDevice('tabgrad-volunteer')))
  return {
    api: api as unknown as Remote<ComputeApi>,
    release: () => { opened?.device.destroy(); opened = null }
  }
}
