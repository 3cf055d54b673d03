// Replica sync (DESIGN.md "Training across tabs"): every `sync_every` optimizer steps, the
// replicas of a stage replace their weights by the replicas' mean. The network moves the flat
// buffers; this does the maths so that every replica computes the very same bits.
import type { GptStage } from '../model/stage.ts'
import { TrainError } from './errors.ts'

/**
 * Element-wise mean of flat weight buffers, summed in float64 in the order given: replicas that
 * pass the same buffers in the same order (say, sorted by PeerId) get identical results.
 * `weights` (e.g. microbatches each replica learned from since the last sync) make it a weighted
 * mean: for SGD that is exactly the full-batch step however the batch was split; all-zero
 * weights fall back to the plain mean.
 */
export function averageParams (replicas: readonly Float32Array[], weights?: readonly number[]): Float32Array {
  if (replicas.length === 0) throw new TrainError('no replicas to average')
  if (weights != null && weights.length !== replicas.length) throw new TrainError(`${weights.length} weights for ${replicas.length} replicas`)
  const total = weights?.reduce((a, b) => a + b, 0) ?? 0
  const share = (i: number): number => total > 0 ? weights![i] / total : 1 / replicas.length
  const n = replicas[0].length
  for (const r of replicas) if (r.length !== n) throw new TrainError(`replica buffers differ in length: ${r.length} vs ${n}`)
  const sum = new Float64Array(n)
  replicas.forEach((r, j) => { const w = share(j); for (let i = 0; i < n; i++) sum[i] += w * r[i] })
  return Float32Array.from(sum)
}

/**
 * Sends this stage's weights out and takes every replica's back (its own included, in the
 * canonical order), then loads their mean. Adam moments stay local, as in SWARM.
 */
export async function syncReplica (stage: GptStage, exchange: (mine: Float32Array) => Promise<Float32Array[]>): Promise<Float32Array> {
  const all = await exchange(await stage.exportParams())
  const mean = averageParams(all)
  stage.importParams(mean)
  return mean
}

/** Whether the step just applied (0-based) ends a sync period of `syncEvery` steps. */
export function syncDue (step: number, syncEvery: number): boolean {
  if (!Number.isInteger(syncEvery) || syncEvery < 1) throw new TrainError(`sync_every must be a positive integer, got ${syncEvery}`)
  return (step + 1) % syncEvery === 0
}
