// The new-campaign form state against the real tracker in-process (its relative `/api/...` calls
// are pointed at the tracker's URL): live validation, presets, stage sizes, create, and a 400's field errors.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTracker, type Tracker } from '../../../tracker/tracker.ts'
import { splitStages, stageParamCount, PRESETS } from '../../../model/config.ts'
import { NewCampaignForm } from './form.svelte.ts'
import { trackerKeyPin } from '../../../ledger/merkle.ts'

let tracker: Tracker
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tabgrad-form-'))
  tracker = await startTracker({ host: '127.0.0.1', port: 0, relayPort: 0, dataDir: dir, staticDir: 'public' })
  const realFetch = globalThis.fetch
  // The operator's sign-in link sets a session cookie; the stub plays the browser's cookie jar.
  const login = await realFetch(`${tracker.url}/api/admin/login?token=${tracker.adminToken}`, { redirect: 'manual' })
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]
  vi.stubGlobal('fetch', async (input: string, init?: RequestInit) =>
    await realFetch(new URL(input, tracker.url), { ...init, headers: { ...init?.headers as Record<string, string>, ...(signedOut ? {} : { cookie }) } }))
})
let signedOut = false

afterAll(async () => {
  vi.unstubAllGlobals()
  await tracker.close()
  await rm(dir, { recursive: true, force: true })
})

async function loaded (): Promise<NewCampaignForm> {
  const form = new NewCampaignForm()
  await form.loadBuiltin()
  return form
}

describe('NewCampaignForm', () => {
  it('takes the built-in dataset from the demo campaign and is invalid only for the empty name', async () => {
    const form = await loaded()
    const demo = tracker.campaigns.get(tracker.demoCampaignId)!.manifest
    expect(form.builtin).toEqual(demo.dataset)
    expect(form.values['dataset.name']).toBe(demo.dataset.name)
    expect(form.clientErrors).toEqual([{ path: 'name', message: 'is required' }])
    expect(form.canSubmit).toBe(false)
    // Not edited yet, so not shown inline; shown after a submit attempt.
    expect(form.visibleErrors('name')).toEqual([])
    await form.submit()
    expect(form.visibleErrors('name')).toEqual(['is required'])
    expect(form.created).toBeNull()
  })

  it('validates as the user types with the shared validator', async () => {
    const form = await loaded()
    form.set('name', 'x')
    expect(form.canSubmit).toBe(true)
    form.set('training.lr', 'abc')
    expect(form.visibleErrors('training.lr')).toEqual(['must be a number'])
    form.set('training.lr', '')
    expect(form.visibleErrors('training.lr')).toEqual(['must be a number'])
    form.set('training.lr', '3e-4')
    expect(form.visibleErrors('training.lr')).toEqual([])
    form.set('training.seq_len', '65')
    expect(form.errorsFor('training.seq_len')).toEqual(['must be at most n_ctx (64)'])
    expect(form.canSubmit).toBe(false)
  })

  it('applies presets, recognises them, and keeps stages and seq_len inside the new shape', async () => {
    const form = await loaded()
    expect(form.preset).toBe('tiny')
    form.applyPreset('base')
    expect(form.preset).toBe('base')
    form.set('training.seq_len', '1024')
    form.set('stages', '12')
    form.applyPreset('small')
    expect(form.values.stages).toBe('6')
    expect(form.values['training.seq_len']).toBe('256')
    form.set('model.n_layer', '7')
    expect(form.preset).toBe('custom')
  })

  it('shows the stage split, parameter counts and memory of the configured model', async () => {
    const form = await loaded()
    form.applyPreset('small')
    form.set('stages', '4')
    const ranges = splitStages(PRESETS.small, 4)
    expect(form.stages?.map(s => s.range)).toEqual(ranges)
    expect(form.totalParams).toBe(ranges.reduce((n, r) => n + stageParamCount(PRESETS.small, r).total, 0))
    expect(form.stages?.every(s => s.memory != null && s.memory.total > 4 * s.params.total)).toBe(true)
    form.set('training.microbatch', '0')
    expect(form.stages?.every(s => s.memory == null)).toBe(true)
    form.set('stages', '7')
    expect(form.stages).toBeNull()
  })

  it('says why when nobody is signed in, and creates nothing', async () => {
    const form = await loaded()
    form.set('name', 'Signed out')
    signedOut = true
    try { await form.submit() } finally { signedOut = false }
    expect(form.created).toBeNull()
    expect(form.submitError).toMatch(/sign in with Ethereum/)
  })

  it('creates the campaign on the tracker and gets its link', async () => {
    const form = await loaded()
    form.set('name', 'Form unit test')
    form.set('training.lr_schedule', 'cosine')
    await form.submit()
    expect(form.submitError).toBeNull()
    expect(form.created?.link).toBe(`${tracker.url}/#/c/${form.created?.id}?key=${trackerKeyPin(tracker.relay.peerId.toString())}`)
    const stored = tracker.campaigns.get(form.created!.id)!.manifest
    expect(stored.name).toBe('Form unit test')
    expect(stored.training.lr_schedule).toBe('cosine')
    expect(stored.dataset.url).toBe('/datasets/sotu-excerpt.txt')
    expect('codec' in stored).toBe(false) // fp32, the default, stays out of the manifest
  })

  it('offers the q8 codec with the bytes it puts on the wire, and the tracker stores it', async () => {
    const form = await loaded()
    form.set('name', 'Form q8 test')
    expect(form.wire).toMatchObject({ codec: 'fp32', ratio: 1 })
    form.set('codec.name', 'q8')
    const d = Number(form.values['model.d_model'])
    expect(form.wire).toMatchObject({ codec: 'q8', perToken: 2 * (d + 4), fp32PerToken: 8 * d })
    await form.submit()
    expect(form.submitError).toBeNull()
    expect(tracker.campaigns.get(form.created!.id)!.manifest.codec).toEqual({ name: 'q8' })
  })

  it('shows the tracker\'s 400 field errors inline until that field is edited', async () => {
    const form = await loaded()
    form.set('name', 'Rejected by the tracker')
    // A tracker with stricter rules than this build's validator (e.g. a newer version) answers 400 with fields.
    const fetchNow = globalThis.fetch
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ error: 'invalid manifest: training.steps too many for this tracker', fields: [{ path: 'training.steps', message: 'must be at most 5000 on this tracker' }] }), { status: 400, headers: { 'content-type': 'application/json' } }))
    try {
      await form.submit()
    } finally {
      vi.stubGlobal('fetch', fetchNow)
    }
    expect(form.created).toBeNull()
    expect(form.submitError).toMatch(/invalid manifest/)
    expect(form.visibleErrors('training.steps')).toEqual(['must be at most 5000 on this tracker'])
    expect(form.visibleErrors('training.lr')).toEqual([])
    form.set('training.steps', '5000')
    expect(form.visibleErrors('training.steps')).toEqual([])
    expect(form.canSubmit).toBe(true)
  })
})
