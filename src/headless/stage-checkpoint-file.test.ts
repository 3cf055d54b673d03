import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkpointPath, decodeCheckpoint, encodeCheckpoint, loadCheckpoint, saveCheckpoint } from './stage-checkpoint-file.ts'

const CAMPAIGN = 'ab'.repeat(16)
let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'tabgrad-ckpt-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

const params = Float32Array.from({ length: 37 }, (_, i) => Math.sin(i) * 1e-3)

describe('stage checkpoint file', () => {
  it('round-trips stage, step and weights bit for bit', async () => {
    await saveCheckpoint(dir, { campaign: CAMPAIGN, stage: 1, weights: { step: 42, params } })
    const c = await loadCheckpoint(dir, CAMPAIGN)
    expect(c).toEqual({ campaign: CAMPAIGN, stage: 1, weights: { step: 42, params } })
  })

  it('has none before the first save', async () => {
    expect(await loadCheckpoint(dir, CAMPAIGN)).toBeNull()
  })

  it('refuses a torn file, flipped bits, another campaign\'s file and foreign bytes', async () => {
    const bytes = encodeCheckpoint({ campaign: CAMPAIGN, stage: 0, weights: { step: 3, params } })
    expect(decodeCheckpoint(bytes.subarray(0, bytes.length - 4), CAMPAIGN)).toEqual({ error: expect.stringContaining('its header says') })
    const flipped = bytes.slice()
    flipped[flipped.length - 1] ^= 1
    expect(decodeCheckpoint(flipped, CAMPAIGN)).toEqual({ error: 'its weights do not match their digest' })
    expect(decodeCheckpoint(bytes, 'cd'.repeat(16))).toEqual({ error: 'it belongs to another campaign' })
    expect(decodeCheckpoint(new TextEncoder().encode('{"hello":1}'), CAMPAIGN)).toEqual({ error: 'not a tabgrad stage checkpoint' })
    const badHeader = new TextEncoder().encode(`tabgrad-stage-ckpt 1\n{"campaign":"${CAMPAIGN}","stage":-1,"step":0,"elements":1,"sha256":"x"}\n\0\0\0\0`)
    expect(decodeCheckpoint(badHeader, CAMPAIGN)).toEqual({ error: 'its header has bad numbers' })
  })

  it('reports a corrupt file on disk instead of loading it', async () => {
    await saveCheckpoint(dir, { campaign: CAMPAIGN, stage: 0, weights: { step: 1, params } })
    const path = checkpointPath(dir, CAMPAIGN)
    const bytes = await readFile(path)
    await writeFile(path, bytes.subarray(0, 50))
    expect(await loadCheckpoint(dir, CAMPAIGN)).toHaveProperty('error')
  })
})
