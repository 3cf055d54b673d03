import { describe, expect, it } from 'vitest'
import { SWARM_DEFAULTS, swarmSettingsOf, validateSwarmSettings } from './swarm-settings.ts'
import { validateManifest } from './manifest.ts'
import { demoManifest } from './demo.ts'

describe('swarm settings', () => {
  it('default when absent, and an absent section stays absent (campaign ids do not change)', () => {
    const m = demoManifest('a'.repeat(64), 10_000)
    const r = validateManifest(m)
    expect(r.ok).toBe(true)
    if (r.ok) {
      expect('swarm' in r.manifest).toBe(false)
      expect(swarmSettingsOf(r.manifest)).toEqual(SWARM_DEFAULTS)
    }
  })

  it('accept valid values and name each bad field', () => {
    const ok = validateManifest({ ...demoManifest('a'.repeat(64), 10_000), swarm: { lookahead: 1, outer_lr: 0.7, outer_momentum: 0.9 } })
    expect(ok.ok && swarmSettingsOf(ok.manifest)).toMatchObject({ lookahead: 1, outer_lr: 0.7, outer_momentum: 0.9, max_slots: 4, inflight: 0 })
    const bad = validateSwarmSettings({ lookahead: 1.5, outer_momentum: 1, nope: 1 })
    expect(bad.errors.map(e => e.path).sort()).toEqual(['swarm.lookahead', 'swarm.nope', 'swarm.outer_momentum'])
    expect(validateSwarmSettings([]).errors[0].path).toBe('swarm')
  })
})
