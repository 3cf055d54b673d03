// `npm run train --init` on Hugging Face layouts, on Node's WebGPU (Dawn; SwiftShader on CI): the
// first-step loss from a GPT-2-named file (no prefix, tied head, mask buffers) equals the loss
// from the same weights in our layout, and the CLI's exported fixture equals its seed init.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { trainMain, type TrainIo } from './train-main.ts'
import { requestNodeDevice } from '../node/webgpu.ts'
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '../model/safetensors.ts'
import { makeTokenFile } from '../data/token-file.ts'

const FIXTURE = 'src/model/fixtures/hf-tiny'
const CONFIG = 'src/model/fixtures/hf-tiny.config.json'
let dir: string
let device: GPUDevice

async function firstLoss (...args: string[]): Promise<number> {
  let stderr = ''
  const io: TrainIo = { stdout: { write: () => {}, isTTY: false }, stderr: { write: (s: string) => { stderr += s }, isTTY: false }, device }
  const json = join(dir, `m${Math.random().toString(36).slice(2)}.json`)
  const code = await trainMain(['--config', CONFIG, '--data', join(dir, 'd.bin'), '--steps', '1', '--batch', '2', '--seq', '8', '--lr', '1e-3', '--no-shuffle', '--json', json, ...args], io)
  expect(code, stderr).toBe(0)
  return (JSON.parse(await readFile(json, 'utf8')) as { steps: Array<{ loss: number }> }).steps[0].loss
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tabgrad-init-'))
  const { bin } = await makeTokenFile(Array.from({ length: 400 }, (_, i) => (i * 17 + (i >> 3)) % 61), { tokenizer: 'bytes' })
  await writeFile(join(dir, 'd.bin'), bin) // no sidecar: plain uint16 ids < 61
  device = (await requestNodeDevice('train-init.test')).device
}, 120_000)

afterAll(async () => {
  device?.destroy()
  await rm(dir, { recursive: true, force: true })
})

describe('npm run train --init with Hugging Face checkpoints', () => {
  test('GPT-2 names, a tied head and mask buffers give the first-step loss of the same weights in our layout', async () => {
    const ours = decodeSafetensors(new Uint8Array(await readFile(join(FIXTURE, 'model.safetensors'))))
    const wte = ours.tensors.get('transformer.wte.weight')!
    const mask: SafeTensor = { shape: [1, 1, 8, 8], data: new Float32Array(64).fill(1) }
    // Ours, with lm_head set to wte: what a tied checkpoint means.
    const tiedOurs = encodeSafetensors([...ours.tensors].map(([n, t]) => [n, n === 'lm_head.weight' ? wte : t]), ours.metadata)
    // GPT2Model names, no lm_head, the causal-mask buffers older files carry.
    const hf = encodeSafetensors([...ours.tensors].filter(([n]) => n !== 'lm_head.weight').flatMap(([n, t]): Array<[string, SafeTensor]> => {
      const short = n.replace(/^transformer\./, '')
      return short.endsWith('.ln_1.weight') ? [[short, t], [short.replace('ln_1.weight', 'attn.bias'), mask]] : [[short, t]]
    }), { format: 'pt' })
    await writeFile(join(dir, 'tied-ours.safetensors'), tiedOurs)
    await writeFile(join(dir, 'hf.safetensors'), hf)
    const a = await firstLoss('--init', join(dir, 'tied-ours.safetensors'))
    const b = await firstLoss('--init', join(dir, 'hf.safetensors'))
    expect(b).toBe(a)
    // The CLI-written fixture is the seed-7 init: --init with it equals --seed 7 without it.
    expect(await firstLoss('--init', join(FIXTURE, 'model.safetensors'))).toBe(await firstLoss('--seed', '7'))
  }, 300_000)

  test('a checkpoint for another config is refused with every mismatch, exit code 2', async () => {
    let stderr = ''
    const io: TrainIo = { stdout: { write: () => {}, isTTY: false }, stderr: { write: (s: string) => { stderr += s }, isTTY: false }, device }
    await writeFile(join(dir, 'wide.json'), JSON.stringify({ vocab: 61, d_model: 32, n_layer: 2, n_head: 2, n_ctx: 8 }))
    const hf = decodeSafetensors(new Uint8Array(await readFile(join(FIXTURE, 'model.safetensors'))))
    await writeFile(join(dir, 'plain.safetensors'), encodeSafetensors([...hf.tensors], { format: 'pt' })) // no config metadata
    const code = await trainMain(['--config', join(dir, 'wide.json'), '--init', join(dir, 'plain.safetensors'), '--steps', '0'], io)
    expect(code).toBe(2)
    expect(stderr).toMatch(/29 problems: "transformer.wte.weight" has shape \[61, 16\], the config needs \[61, 32\];/)
  })
})
