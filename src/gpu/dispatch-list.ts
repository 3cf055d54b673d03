// A recorded sequence of compute dispatches (pipeline, bind groups, grid), replayed into any pass.
// Kernel plans create their bind groups while encoding; recording a stage's forward, backward and
// optimizer once and replaying the lists every step makes those bind groups (and the plans' shape
// checks and cache lookups) a one-time cost. The list also counts dispatches and, replayed one
// dispatch per timestamped pass, splits GPU time by kernel family.

export interface Dispatch {
  pipeline: GPUComputePipeline
  /** bind groups by index, as set when the dispatch was recorded */
  bindGroups: ReadonlyArray<GPUBindGroup | null>
  groups: readonly [number, number, number]
}

export class DispatchList {
  readonly dispatches: readonly Dispatch[]

  private constructor (dispatches: Dispatch[]) {
    this.dispatches = dispatches
  }

  /** Runs `encode` against a recording pass; only setPipeline, setBindGroup (no dynamic offsets) and dispatchWorkgroups are allowed. */
  static record (encode: (pass: GPUComputePassEncoder) => void): DispatchList {
    const dispatches: Dispatch[] = []
    let pipeline: GPUComputePipeline | null = null
    const bindGroups: Array<GPUBindGroup | null> = []
    const recorder = {
      setPipeline (p: GPUComputePipeline): void { pipeline = p },
      setBindGroup (index: number, group: GPUBindGroup | null, offsets?: Iterable<number>): void {
        if (offsets != null && [...offsets].length > 0) throw new Error('DispatchList: dynamic offsets are not recorded')
        bindGroups[index] = group
      },
      dispatchWorkgroups (x: number, y = 1, z = 1): void {
        if (pipeline == null) throw new Error('DispatchList: dispatch before setPipeline')
        dispatches.push({ pipeline, bindGroups: [...bindGroups], groups: [x, y, z] })
      }
    }
    const pass = new Proxy(recorder, {
      get (target, prop) {
        if (prop in target) return target[prop as keyof typeof target]
        if (prop === 'label') return 'dispatch-list.recorder'
        throw new Error(`DispatchList: ${String(prop)} is not recorded`)
      }
    }) as unknown as GPUComputePassEncoder
    encode(pass)
    return new DispatchList(dispatches)
  }

  /** Several lists as one, in order. */
  static concat (...lists: DispatchList[]): DispatchList {
    return new DispatchList(lists.flatMap(l => [...l.dispatches]))
  }

  get length (): number {
    return this.dispatches.length
  }

  /** Replays every dispatch into `pass`, skipping redundant pipeline and bind-group switches. */
  encode (pass: GPUComputePassEncoder): void {
    let pipeline: GPUComputePipeline | null = null
    const bound: Array<GPUBindGroup | null> = []
    for (const d of this.dispatches) {
      if (d.pipeline !== pipeline) { pass.setPipeline(d.pipeline); pipeline = d.pipeline }
      d.bindGroups.forEach((g, i) => {
        if (g != null && bound[i] !== g) { pass.setBindGroup(i, g); bound[i] = g }
      })
      pass.dispatchWorkgroups(...d.groups)
    }
  }

  /** Dispatches per kernel family (a pipeline label's part before the first '.' or '_'). */
  families (): Map<string, number> {
    const out = new Map<string, number>()
    for (const d of this.dispatches) {
      const f = kernelFamily(d.pipeline.label)
      out.set(f, (out.get(f) ?? 0) + 1)
    }
    return out
  }
}

/** 'matmul_64x64x16_4x4' → 'matmul', 'layernorm.backward_dinp' → 'layernorm'. */
export function kernelFamily (label: string): string {
  const m = /^[a-z0-9-]+/i.exec(label)
  return m?.[0] ?? label
}
