// `npm run train --init` with a Hugging Face checkpoint that does not fit --config: exit code 2
// and every mismatch on one line, before any GPU work.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { trainMain, type TrainIo } from './train-main.ts'
import { decodeSafetensors, encodeSafetensors } from '../model/safetensors.ts'

const FIXTURE = 'src/model/fixtures/hf-tiny'
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tabgrad-init-'))
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('npm run train --init with Hugging Face checkpoints', () => {
  test('a checkpoint for another config is refused with every mismatch, exit code 2', async () => {
    let stderr = ''
    const io: TrainIo = { stdout: { write: () => {}, isTTY: false }, stderr: { write: (s: string) => { stderr += s }, isTTY: false } }
    await writeFile(join(dir, 'wide.json'), JSON.stringify({ vocab: 61, d_model: 32, n_layer: 2, n_head: 2, n_ctx: 8 }))
    const hf = decodeSafetensors(new Uint8Array(await readFile(join(FIXTURE, 'model.safetensors'))))
    await writeFile(join(dir, 'plain.safetensors'), encodeSafetensors([...hf.tensors], { format: 'pt' })) // no config metadata
    const code = await trainMain(['--config', join(dir, 'wide.json'), '--init', join(dir, 'plain.safetensors'), '--steps', '0'], io)
    expect(code).toBe(2)
    expect(stderr).toMatch(/29 problems: "transformer.wte.weight" has shape \[61, 16\], the config needs \[61, 32\];/)
  })
})
