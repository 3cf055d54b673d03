// The tuner on the real adapter: it times candidates once per shape class and reuses the choice.
import { beforeAll, expect, test } from 'vitest'
import { MatmulTuner, idbTuneStore, memoryTuneStore, timeKernel } from './autotune.ts'
import { requestTabgradDevice, type TabgradDevice } from './device.ts'
import { TILE_CONFIGS, configName } from './kernels/matmul.ts'

let tg: TabgradDevice
beforeAll(async () => { tg = await requestTabgradDevice() })

const candidates = TILE_CONFIGS.filter(c => ['64x64x16_4x4', '32x32x16_4x4'].includes(configName(c)))

test('timeKernel returns a positive time', async () => {
  const t = await timeKernel(tg, () => {}, { iterations: 2 })
  expect(t.ms).toBeGreaterThanOrEqual(0)
  expect(['timestamp', 'wall']).toContain(t.method)
})

test('tunes once per shape class, then reuses the stored choice', async () => {
  const store = memoryTuneStore()
  const tuner = new MatmulTuner(tg, { store, candidates, targetMsPerCandidate: 1 })
  const p = { M: 64, K: 16, N: 64, layout: 'nn' as const }
  const config = await tuner.configFor(p)
  const result = tuner.results.get(tuner.key(p))
  expect(result != null && 'timings' in result ? result.timings.map(t => t.config).sort() : []).toEqual(candidates.map(configName).sort())
  expect(await store.get(tuner.key(p))).toBe(configName(config))

  // A second tuner on the same store times nothing.
  const again = new MatmulTuner(tg, { store, candidates })
  expect(configName(await again.configFor({ ...p, M: 60 + 4 }))).toBe(configName(config))
  expect(again.results.get(tuner.key(p))).toMatchObject({ cached: true })
})

test('IndexedDB store persists choices', async () => {
  const a = idbTuneStore({ dbName: 'tabgrad-autotune-test' })
  await a.set('x', '32x32x16_4x4')
  const b = idbTuneStore({ dbName: 'tabgrad-autotune-test' })
  expect(await b.get('x')).toBe('32x32x16_4x4')
})
