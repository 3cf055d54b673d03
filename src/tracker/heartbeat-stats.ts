// The schema of a heartbeat's `stats`: what a tab may say about itself. They are shown to every
// viewer of the campaign page and feed stage assignment, so a tab must not be able to rename
// itself (`peerId`), move stages (`stage`), clear its exclusion (`excluded`), reach a prototype
// (`__proto__`) or claim absurd numbers. Unknown lower-case names pass (newer tabs report more),
// within a count limit; values must be finite, non-negative and bounded.
import { BadRequestError } from './errors.ts'

/** Keys the coordinator sets itself on a replica's status entry. */
const RESERVED = new Set(['peerId', 'stage', 'excluded', 'ready', '__proto__', 'constructor', 'prototype'])
const KEY = /^[a-z][a-z0-9_]{0,31}$/
/** Stats one heartbeat may carry (the app reports 13). */
export const MAX_STATS = 32
/** Counters: 2^53 bytes or FLOPs is far beyond any tab's life; keeps sums exact. */
const MAX_VALUE = Number.MAX_SAFE_INTEGER
/** Throughput in FLOP/s: 1e18 is an exaflop, more than any single GPU by 1000×. */
const MAX_THROUGHPUT = 1e18

export class StatsSchemaError extends BadRequestError {
  override name = 'StatsSchemaError'
}

/** Validated stats on a null-prototype object; throws StatsSchemaError (400) on anything else. */
export function parseHeartbeatStats (value: unknown): Record<string, number> {
  const out = Object.create(null) as Record<string, number>
  if (value == null) return out
  if (typeof value !== 'object' || Array.isArray(value)) throw new StatsSchemaError('stats must be an object of numbers')
  const entries = Object.entries(value)
  if (entries.length > MAX_STATS) throw new StatsSchemaError(`stats may have at most ${MAX_STATS} fields`)
  for (const [k, v] of entries) {
    if (!KEY.test(k) || RESERVED.has(k)) throw new StatsSchemaError(`stats.${k.slice(0, 40)} is not a stat a tab may report`)
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new StatsSchemaError(`stats.${k} must be a finite non-negative number`)
    const max = k === 'throughput' ? MAX_THROUGHPUT : k.endsWith('_fraction') ? 1 : k === 'paused' ? 1 : MAX_VALUE
    if (v > max) throw new StatsSchemaError(`stats.${k} must be at most ${max}`)
    out[k] = v
  }
  return out
}
