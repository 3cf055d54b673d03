import { describe, expect, it } from 'vitest'
import { CODEC_DEFAULTS, codecSettingsOf, validateCodecSettings } from './codec-settings.ts'
import { campaignId, validateManifest } from './manifest.ts'
import { demoManifest } from './demo.ts'

describe('codec settings', () => {
  it('absent or fp32 means fp32 and stays absent: the campaign id does not change', async () => {
    const m = demoManifest('a'.repeat(64), 10_000)
    const plain = validateManifest(m)
    const fp32 = validateManifest({ ...m, codec: { name: 'fp32' } })
    expect(plain.ok && fp32.ok).toBe(true)
    if (!plain.ok || !fp32.ok) return
    expect('codec' in plain.manifest).toBe(false)
    expect('codec' in fp32.manifest).toBe(false)
    expect(codecSettingsOf(plain.manifest)).toEqual(CODEC_DEFAULTS)
    expect(await campaignId(fp32.manifest)).toBe(await campaignId(plain.manifest))
  })

  it('q8 is kept and changes the id; bad values are named', async () => {
    const m = demoManifest('a'.repeat(64), 10_000)
    const q = validateManifest({ ...m, codec: { name: 'q8' } })
    const plain = validateManifest(m)
    expect(q.ok && codecSettingsOf(q.manifest)).toEqual({ name: 'q8' })
    if (q.ok && plain.ok) expect(await campaignId(q.manifest)).not.toBe(await campaignId(plain.manifest))
    const bad = validateManifest({ ...m, codec: { name: 'q4', k: 3 } })
    expect(bad.ok).toBe(false)
    if (!bad.ok) expect(bad.errors.map(e => e.path).sort()).toEqual(['codec.k', 'codec.name'])
    expect(validateCodecSettings('q8').errors[0].path).toBe('codec')
  })
})
