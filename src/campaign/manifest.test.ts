import { describe, expect, it } from 'vitest'
import { campaignId, canonicalJson, validateManifest, type CampaignManifest } from './manifest.ts'
import { demoManifest } from './demo.ts'

const demo = (): CampaignManifest => demoManifest('a'.repeat(64), 418169)

describe('validateManifest', () => {
  it('accepts the demo manifest unchanged', () => {
    const v = validateManifest(demo())
    expect(v).toEqual({ ok: true, manifest: demo() })
  })

  it('reports each bad field by path', () => {
    const m = demo() as unknown as Record<string, any>
    m.model.n_head = 3 // 64 % 3 != 0
    m.training.lr = -1
    m.training.seq_len = 999 // > n_ctx
    m.stages = 5 // > n_layer
    m.dataset.sha256 = 'xyz'
    m.extra = 1
    const v = validateManifest(m)
    expect(v.ok).toBe(false)
    const paths = v.ok ? [] : v.errors.map(e => e.path).sort()
    expect(paths).toEqual(['dataset.sha256', 'extra', 'model.n_head', 'stages', 'training.lr', 'training.seq_len'])
  })

  it('does not cascade errors from missing fields', () => {
    const v = validateManifest({ version: 1 })
    expect(v.ok).toBe(false)
    if (!v.ok) expect(v.errors.some(e => e.message.includes('NaN'))).toBe(false)
  })

  it('takes a GPT-2 tokenized dataset with a held-out split, and checks it against the model', () => {
    const m = demo()
    m.model.vocab = 50257
    m.dataset = { ...m.dataset, format: 'uint16', bytes: 2 * 100_000, tokenizer: 'gpt2', validation_tokens: 2000 }
    expect(validateManifest(m)).toEqual({ ok: true, manifest: m })
    const bad = structuredClone(m) as unknown as Record<string, any>
    bad.model.vocab = 256
    bad.dataset.format = 'bytes'
    bad.dataset.validation_tokens = 10 // < seq_len + 1
    const v = validateManifest(bad)
    expect(v.ok ? [] : v.errors.map(e => e.path).sort()).toEqual(['dataset.format', 'dataset.validation_tokens', 'model.vocab'])
    const unknown = validateManifest({ ...m, dataset: { ...m.dataset, tokenizer: 'gpt5' } })
    expect(unknown.ok ? [] : unknown.errors.map(e => e.path)).toEqual(['dataset.tokenizer'])
    const allHeld = validateManifest({ ...m, dataset: { ...m.dataset, validation_tokens: 99_990 } })
    expect(allHeld.ok ? [] : allHeld.errors.map(e => e.path)).toEqual(['dataset.bytes'])
  })

  it('refuses non-objects', () => {
    for (const bad of [null, 3, 'x', []]) expect(validateManifest(bad).ok).toBe(false)
  })
})

describe('campaign ids', () => {
  it('are content addressed: key order does not matter, content does', async () => {
    const a = demo()
    // Same content, keys in reverse order at every level.
    const reverse = (v: unknown): unknown => (v !== null && typeof v === 'object' && !Array.isArray(v))
      ? Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverse(x)]))
      : v
    const reordered = reverse(a) as CampaignManifest
    expect(JSON.stringify(reordered)).not.toBe(JSON.stringify(a))
    expect(canonicalJson(reordered)).toBe(canonicalJson(a))
    expect(await campaignId(reordered)).toBe(await campaignId(a))
    const b = demo()
    b.training.lr = 1e-3
    expect(await campaignId(b)).not.toBe(await campaignId(a))
    expect(await campaignId(a)).toMatch(/^[0-9a-f]{32}$/)
  })
})

describe('size bounds: a manifest cannot make a tab allocate absurd memory', () => {
  const errorsOf = (m: unknown): string[] => { const v = validateManifest(m); return v.ok ? [] : v.errors.map(e => `${e.path} ${e.message}`) }
  it('refuses a dataset larger than the upload limit (a tab allocates it whole)', () => {
    const m = demoManifest('a'.repeat(64), 2 ** 53 - 1)
    expect(errorsOf(m)).toContainEqual(expect.stringMatching(/^dataset\.bytes must be between 1 and 33554432$/))
  })
  it('refuses a stage that needs more GPU memory than the limit, and says how much', () => {
    const m = demoManifest('a'.repeat(64), 100_000)
    Object.assign(m.model, { vocab: 65536, d_model: 4096, n_layer: 96, n_head: 64, n_ctx: 4096 })
    m.stages = 1
    expect(errorsOf(m)).toContainEqual(expect.stringMatching(/^stages the largest stage needs \d+\.\d GiB of GPU memory; at most 8 GiB/))
    m.stages = 64
    m.training.microbatch = 1
    m.training.seq_len = 64
    expect(errorsOf(m)).toEqual([]) // the same model split over 64 stages fits
  })
  it('refuses warmup longer than the run', () => {
    const m = demoManifest('a'.repeat(64), 100_000)
    m.training.warmup_steps = m.training.steps + 1
    expect(errorsOf(m)).toEqual([`training.warmup_steps must be at most steps (${m.training.steps})`])
  })
})
