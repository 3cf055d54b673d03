// The swarm's validation losses on a real tracker with signed calls: only a last-stage replica
// reports, only for a step that evaluates and has been reached, with a finite loss and a batch in
// range; the status plots the mean once every batch is in, counting each batch once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Tracker } from '../tracker.ts'
import { testTrackers } from '../test-trackers.ts'
import { VALIDATION_BATCHES } from '../../train/evaluate.ts'
import { call, createCampaign, get, newTab, routeReceipts, twoStageManifest, type TestTab } from './swarm-test-kit.ts'

const trackers = testTrackers('tabgrad-validation-')
let t: Tracker
beforeAll(async () => { t = await trackers.start() })
afterAll(async () => { await trackers.cleanup() })

/** A campaign that holds 4096 tokens out, with step 0 done (so step 1 has been reached). */
async function afterStepOne (name: string, held = 4096): Promise<{ id: string, s0: TestTab, last: TestTab }> {
  const m = twoStageManifest(name)
  m.dataset.validation_tokens = held
  const id = await createCampaign(t, m)
  const [s0, last] = await Promise.all([newTab(), newTab()])
  await call(t, id, s0, 'join', { stage: 0 })
  await call(t, id, last, 'join', { stage: 1 })
  for (const tab of [s0, last]) await call(t, id, tab, 'heartbeat', { stats: {} })
  await call(t, id, s0, 'lease', { max: 2 })
  for (const mb of [0, 1]) expect((await call(t, id, s0, 'complete', { microbatch: mb, receipts: await routeReceipts(m, id, mb, s0, last) })).json.credited).toBe(true)
  return { id, s0, last }
}

describe('POST …/evalloss', () => {
  it('plots the mean of a step\'s batches once all are in; a batch counts once', async () => {
    const { id, last } = await afterStepOne('Validation plotted')
    const losses = [5, 4, 3, 2]
    for (let batch = 0; batch < VALIDATION_BATCHES - 1; batch++) expect((await call(t, id, last, 'evalloss', { step: 1, batch, loss: losses[batch] })).status).toBe(200)
    expect((await get(t, `/api/campaigns/${id}/swarm`)).validation).toEqual([])
    // A second word on batch 0 changes nothing.
    expect((await call(t, id, last, 'evalloss', { step: 1, batch: 0, loss: 100 })).status).toBe(200)
    await call(t, id, last, 'evalloss', { step: 1, batch: 3, loss: losses[3] })
    expect((await get(t, `/api/campaigns/${id}/swarm`)).validation).toEqual([{ step: 1, loss: 3.5 }])
  })

  it('refuses hostile or mistaken reports with a clear 4xx, and they plot nothing', async () => {
    const { id, s0, last } = await afterStepOne('Validation refused')
    const cases: Array<[TestTab, Record<string, unknown>, number, RegExp]> = [
      [s0, { step: 1, batch: 0, loss: 1 }, 403, /only the last stage/],
      [last, { step: 2, batch: 0, loss: 1 }, 400, /has not been reached/],
      [last, { step: 0, batch: 0, loss: 1 }, 400, /not evaluated/],
      [last, { step: 1, batch: VALIDATION_BATCHES, loss: 1 }, 400, /batch must be below/],
      [last, { step: 1, batch: 0, loss: 'NaN' }, 400, /finite/],
      [last, { step: 1, batch: 0, loss: -1 }, 400, /non-negative/],
      [last, { step: 1.5, batch: 0, loss: 1 }, 400, /step/]
    ]
    for (const [tab, body, status, message] of cases) {
      const r = await call(t, id, tab, 'evalloss', body)
      expect(r.status, JSON.stringify(body)).toBe(status)
      expect(r.json.error).toMatch(message)
    }
    const outsider = await newTab()
    expect((await call(t, id, outsider, 'evalloss', { step: 1, batch: 0, loss: 1 })).status).toBe(409)
    expect((await get(t, `/api/campaigns/${id}/swarm`)).validation).toBeUndefined()
  })

  it('a campaign that holds nothing out takes no validation loss', async () => {
    const { id, last } = await afterStepOne('No validation', 0)
    const r = await call(t, id, last, 'evalloss', { step: 1, batch: 0, loss: 1 })
    expect(r.status).toBe(409)
    expect(r.json.error).toMatch(/holds out no validation tokens/)
  })
})
