// The compute API in-process on Node's WebGPU (Dawn): the same code the browser's compute worker
// runs, behind the same interface. GPU work is asynchronous in Dawn, so the event loop stays free
// for libp2p between dispatches; no worker thread is needed.
import type { Remote } from 'comlink'
import { createComputeApi } from '../worker/compute-api.ts'
import type { ComputeApi } from '../worker/protocol.ts'
import { requestNodeDevice } from '../node/webgpu.ts'

/** A plain object of async methods is what SwarmTab's `Remote<ComputeApi>` calls. */
export function createNodeCompute (): Remote<ComputeApi> {
  return createComputeApi(async () => await requestNodeDevice('tabgrad-volunteer')) as unknown as Remote<ComputeApi>
}
