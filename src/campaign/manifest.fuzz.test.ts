// Property-based fuzzing of manifest validation (fast-check, 10,000 cases per property): any JSON,
// and valid manifests with fields replaced by wrong types, huge numbers and prototype keys.
// validateManifest never throws; what it accepts satisfies every bound (so no accepted manifest
// can make a tab allocate absurd memory); what it refuses comes with per-field errors.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { MANIFEST_LIMITS, validateManifest, type CampaignManifest } from './manifest.ts'
import { demoManifest } from './demo.ts'
import { splitStages } from '../model/config.ts'
import { stageMemory } from '../model/memory.ts'

const RUNS = { numRuns: 10_000 }

function checkAccepted (m: CampaignManifest): void {
  expect(Object.keys(m).sort()).toEqual(['dataset', 'description', 'model', 'name', 'spot_check_rate', 'stages', 'training', 'version'])
  expect(m.dataset.bytes).toBeLessThanOrEqual(MANIFEST_LIMITS.datasetBytes)
  for (const v of [...Object.values(m.model), m.stages, m.training.microbatch, m.training.seq_len, m.training.steps]) expect(Number.isSafeInteger(v)).toBe(true)
  expect(m.training.seq_len).toBeLessThanOrEqual(m.model.n_ctx)
  const worst = Math.max(...splitStages(m.model, m.stages).map(r => stageMemory(m.model, r, m.training.microbatch, m.training.seq_len).total))
  expect(worst).toBeLessThanOrEqual(MANIFEST_LIMITS.stageBytes)
  for (const x of [m.training.lr, m.training.weight_decay, m.training.grad_clip, m.spot_check_rate]) expect(Number.isFinite(x)).toBe(true)
}

function validate (input: unknown): void {
  const v = validateManifest(input)
  if (v.ok) checkAccepted(v.manifest)
  else {
    expect(v.errors.length).toBeGreaterThan(0)
    for (const e of v.errors) { expect(typeof e.path).toBe('string'); expect(e.message).toMatch(/^[^\n]+$/) }
  }
  expect(({} as Record<string, unknown>).polluted).toBeUndefined()
}

const hostile = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(2 ** 53, 2 ** 53 - 1, 2 ** 31, -1, 0, 0.5, 1e308, -1e-308, NaN, Infinity, '', '1', 'x'.repeat(2000), null, [], {}, true, { polluted: 1 }),
  fc.integer({ min: 0, max: 100_000 })
)
const PATHS = ['version', 'name', 'description', 'stages', 'spot_check_rate', 'model', 'dataset', 'training',
  ...['vocab', 'd_model', 'n_layer', 'n_head', 'n_ctx'].map(k => `model.${k}`),
  ...['name', 'url', 'sha256', 'bytes', 'format'].map(k => `dataset.${k}`),
  ...['microbatch', 'accumulation', 'seq_len', 'lr', 'lr_schedule', 'warmup_steps', 'steps', 'weight_decay', 'grad_clip', 'sync_every', 'seed'].map(k => `training.${k}`),
  '__proto__', 'constructor', 'model.__proto__', 'training.__proto__', 'dataset.constructor']

describe('manifest fuzz', () => {
  it('any JSON value: never throws, bounds hold for what is accepted', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }), validate), RUNS)
  })

  it('a valid manifest with 1–4 fields set to hostile values (JSON round trip, as the tracker receives it)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom(...PATHS), hostile), { minLength: 1, maxLength: 4 }), edits => {
      const m = JSON.parse(JSON.stringify(demoManifest('a'.repeat(64), 100_000))) as Record<string, Record<string, unknown>>
      for (const [path, value] of edits) {
        const [a, b] = path.split('.')
        const target = b == null ? m as Record<string, unknown> : m[a]
        if (target == null || typeof target !== 'object') continue
        // A fresh copy: constantFrom hands out the same object every time, and a later edit inside it
        // would otherwise build a cycle that outlives this case.
        Object.defineProperty(target, b ?? a, { value: structuredClone(value), enumerable: true, configurable: true, writable: true })
      }
      validate(JSON.parse(JSON.stringify(m)))
    }), RUNS)
  })

  it('model sizes anywhere in their ranges: accepted only when every stage fits in memory', () => {
    const L = MANIFEST_LIMITS
    fc.assert(fc.property(
      fc.record({ vocab: fc.integer({ min: 256, max: L.vocab }), d_model: fc.integer({ min: 1, max: L.d_model / 4 }).map(x => x * 4), n_layer: fc.integer({ min: 1, max: L.n_layer }), n_ctx: fc.integer({ min: 1, max: L.n_ctx }) }),
      fc.integer({ min: 1, max: L.stages }), fc.integer({ min: 1, max: L.microbatch }), fc.integer({ min: 1, max: L.n_ctx }),
      (model, stages, microbatch, seqLen) => {
        const m = demoManifest('a'.repeat(64), 1_000_000)
        m.model = { ...model, n_head: 1 }
        m.stages = stages
        m.training.microbatch = microbatch
        m.training.seq_len = seqLen
        validate(m)
      }), { numRuns: 2_000 }) // each case sizes up to 64 stages; the two properties above carry the 10,000

  })
})
