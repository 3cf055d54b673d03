// One simulated volunteer: a GPU of some speed and a link, running the real swarm runtime with
// kernels that take the time the real ones would at that speed.
import type { StageKernels } from '../train/swarm/stage-compute.ts'
import type { VirtualClock } from './virtual-clock.ts'
import type { SimEndpoint, SimLink } from './network.ts'
import type { SwarmRuntime } from '../train/swarm/runtime.ts'

export interface PeerMeter {
  /** ms of forward, backward and optimizer work. */
  computeMs: number
  forwardMs: number
}

export interface SimPeer {
  id: string
  /** FLOP/s this GPU sustains. */
  speed: number
  link: SimLink
  endpoint: SimEndpoint
  runtime: SwarmRuntime | null
  stage: number | null
  joinedAt: number
  leftAt: number | null
  crashed: boolean
  meter: PeerMeter
  /** Counters frozen when the peer left. */
  final: { idleMs: number, recomputes: number, microbatches: number } | null
}

/** Kernels that sleep for `flops / speed` on the virtual clock; tensors are one element long. */
export function timedKernels (clock: VirtualClock, speed: number, flops: { forward: number, backward: number, step: number }, isLast: boolean, meter: PeerMeter): StageKernels {
  const busy = async (f: number): Promise<number> => {
    const ms = f / speed * 1000
    await clock.sleep(ms)
    meter.computeMs += ms
    return ms
  }
  let params = new Float32Array(4)
  return {
    forward: async input => {
      meter.forwardMs += await busy(flops.forward)
      return { output: isLast ? null : new Float32Array([input[0] ?? 0]), loss: isLast ? 3 : null }
    },
    backward: async () => {
      await busy(flops.backward)
      return { dInput: new Float32Array([1]) }
    },
    step: async () => { await busy(flops.step) },
    zeroGrad: async () => {},
    spotRun: async input => { await busy(flops.forward); return { output: Float32Array.from(input) } },
    exportParams: async () => params.slice(),
    importParams: async p => { params = p.slice() }
  }
}
