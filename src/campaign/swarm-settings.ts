// The manifest's optional `swarm` section: how the pipeline schedules and how replicas sync.
// Absent means the defaults, so older manifests (and their content-addressed ids) are unchanged.
//
// Replica sync is DiLoCo-style (Douillard et al. 2023): every `training.sync_every` inner AdamW
// steps, each replica's pseudo-gradient Δ = θ_anchor − θ_local is averaged across the stage's
// replicas and an outer Nesterov-momentum SGD step moves the anchor: with outer_lr 1 and
// outer_momentum 0 (the defaults) that is exactly a weighted average of the replicas' weights.
// DiLoCo's published setting is outer_lr 0.7, outer_momentum 0.9 with H = 500.

export interface SwarmSettings {
  /**
   * Steps beyond the tracker's open step whose microbatches may be leased early. 0 drains the
   * pipeline at every step (exact synchronous maths); 1 keeps it full, and a gradient lands at
   * most one step late (bounded staleness, as PipeDream-2BW). @default 0
   */
  lookahead: number
  /** Outer learning rate of the DiLoCo step on the averaged pseudo-gradient. @default 1 */
  outer_lr: number
  /** Outer Nesterov momentum. @default 0 */
  outer_momentum: number
  /** Most activation slots a stage keeps (microbatches between forward and backward); the GPU's memory budget may allow fewer. @default 4 */
  max_slots: number
  /**
   * Microbatches a stage-0 tab keeps in flight. 0: one per activation slot, so stage 0 never
   * recomputes. More keeps a deep pipeline full when links, not GPUs, are the bottleneck: the
   * extra ones keep only their tokens and recompute their forward at backward. @default 0
   */
  inflight: number
}

export const SWARM_DEFAULTS: SwarmSettings = { lookahead: 0, outer_lr: 1, outer_momentum: 0, max_slots: 4, inflight: 0 }

const BOUNDS: Record<keyof SwarmSettings, { min: number, max: number, int: boolean }> = {
  lookahead: { min: 0, max: 4, int: true },
  outer_lr: { min: 0.01, max: 2, int: false },
  outer_momentum: { min: 0, max: 0.99, int: false },
  max_slots: { min: 1, max: 32, int: true },
  inflight: { min: 0, max: 1024, int: true }
}

/** The effective settings of a (validated) manifest. */
export function swarmSettingsOf (m: { swarm?: Partial<SwarmSettings> }): SwarmSettings {
  return { ...SWARM_DEFAULTS, ...m.swarm }
}

/** Checks a manifest's `swarm` section; returns the cleaned section and field errors (dotted paths). */
export function validateSwarmSettings (input: unknown): { value: Partial<SwarmSettings> | undefined, errors: Array<{ path: string, message: string }> } {
  if (input === undefined) return { value: undefined, errors: [] }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { value: undefined, errors: [{ path: 'swarm', message: 'must be an object' }] }
  const errors: Array<{ path: string, message: string }> = []
  const value: Partial<SwarmSettings> = {}
  for (const [k, v] of Object.entries(input)) {
    const b = BOUNDS[k as keyof SwarmSettings]
    if (b == null) { errors.push({ path: `swarm.${k}`, message: 'is not a swarm setting' }); continue }
    if (typeof v !== 'number' || !Number.isFinite(v) || (b.int && !Number.isInteger(v))) { errors.push({ path: `swarm.${k}`, message: b.int ? 'must be a whole number' : 'must be a number' }); continue }
    if (v < b.min || v > b.max) { errors.push({ path: `swarm.${k}`, message: `must be between ${b.min} and ${b.max}` }); continue }
    value[k as keyof SwarmSettings] = v
  }
  return { value, errors }
}
