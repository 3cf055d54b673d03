// GPU time of a recorded step split by kernel family: every dispatch of the lists is replayed in
// its own compute pass between two timestamps (one submit), then summed per family. Pass
// boundaries add a little per dispatch, so the split is for proportions; the step's own time is
// measured without them.
import { kernelFamily, type DispatchList } from '../gpu/dispatch-list.ts'

export interface FamilyTime { family: string, dispatches: number, ms: number, fraction: number }

/** Null when the device has no timestamp queries (or returns zeros). */
export async function profileByFamily (device: GPUDevice, lists: DispatchList[]): Promise<FamilyTime[] | null> {
  if (!device.features.has('timestamp-query')) return null
  const dispatches = lists.flatMap(l => [...l.dispatches])
  const n = dispatches.length
  const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * n })
  const resolve = device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC })
  const readback = device.createBuffer({ size: 16 * n, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ })
  try {
    const enc = device.createCommandEncoder({ label: 'profile' })
    dispatches.forEach((d, i) => {
      const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } })
      pass.setPipeline(d.pipeline)
      d.bindGroups.forEach((g, k) => { if (g != null) pass.setBindGroup(k, g) })
      pass.dispatchWorkgroups(...d.groups)
      pass.end()
    })
    enc.resolveQuerySet(querySet, 0, 2 * n, resolve, 0)
    enc.copyBufferToBuffer(resolve, 0, readback, 0, 16 * n)
    device.queue.submit([enc.finish()])
    await readback.mapAsync(GPUMapMode.READ)
    const t = new BigUint64Array(readback.getMappedRange().slice(0))
    readback.unmap()
    const byFamily = new Map<string, { dispatches: number, ns: number }>()
    let total = 0
    dispatches.forEach((d, i) => {
      const ns = Number(t[2 * i + 1] - t[2 * i])
      const f = kernelFamily(d.pipeline.label)
      const e = byFamily.get(f) ?? { dispatches: 0, ns: 0 }
      e.dispatches++; e.ns += ns; total += ns
      byFamily.set(f, e)
    })
    if (total <= 0) return null
    return [...byFamily].map(([family, e]) => ({ family, dispatches: e.dispatches, ms: e.ns / 1e6, fraction: e.ns / total }))
      .sort((a, b) => b.ms - a.ms)
  } finally {
    querySet.destroy(); resolve.destroy(); readback.destroy()
  }
}
