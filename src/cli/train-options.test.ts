// Flag and data loading of `npm run train` without a GPU: tokenizers, token files and their
// sidecars, the held-out split.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadTrainOptions } from './train-options.ts'
import { loadTokenizer } from '../tokenizer/tokenizer.ts'
import { makeTokenFile } from '../data/token-file.ts'

let dir: string
const text = 'Fellow-Citizens of the Senate and House of Representatives: in meeting you again I feel much satisfaction.\n'.repeat(40)
const gpt2Config = JSON.stringify({ vocab: 50257, d_model: 32, n_layer: 2, n_head: 2, n_ctx: 32 })

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tabgrad-train-options-'))
  await writeFile(join(dir, 'corpus.txt'), text)
  await writeFile(join(dir, 'gpt2.json'), gpt2Config)
  await writeFile(join(dir, 'bytes.json'), JSON.stringify({ vocab: 256, d_model: 32, n_layer: 2, n_head: 2, n_ctx: 32 }))
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

const base = (...more: string[]): string[] => ['--steps', '10', '--batch', '2', '--seq', '16', '--lr', '1e-3', ...more]

describe('npm run train data options', () => {
  it('tokenizes .txt with --tokenizer gpt2 exactly as the tokenizer module does, after <|endoftext|>', async () => {
    const o = await loadTrainOptions(base('--config', join(dir, 'gpt2.json'), '--data', join(dir, 'corpus.txt'), '--tokenizer', 'gpt2', '--validation', '100'))
    const ids = (await loadTokenizer('gpt2')).encode(text)
    expect(o.tokenizer).toBe('gpt2')
    expect(o.tokens![0]).toBe(50256)
    expect(Array.from(o.tokens!.subarray(1))).toEqual(Array.from(ids.subarray(0, ids.length - 100)))
    expect(Array.from(o.validation!)).toEqual(Array.from(ids.subarray(ids.length - 100)))
    expect(o.valEvery).toBe(1) // steps / 10
  })

  it('reads a .bin with its sidecar: tokenizer and validation split come from it', async () => {
    const ids = (await loadTokenizer('gpt2')).encode(text)
    const { bin, meta } = await makeTokenFile(ids, { tokenizer: 'gpt2', validationTokens: 64 })
    await writeFile(join(dir, 'c.bin'), bin)
    await writeFile(join(dir, 'c.bin.json'), JSON.stringify(meta))
    const o = await loadTrainOptions(base('--config', join(dir, 'gpt2.json'), '--data', join(dir, 'c.bin'), '--val-every', '5'))
    expect(o.tokenizer).toBe('gpt2')
    expect(o.tokens!.length + o.validation!.length).toBe(ids.length)
    expect(o.validation!.length).toBe(64)
    expect(o.valEvery).toBe(5)
  })

  it('refuses a .bin that differs from its sidecar, a byte model on gpt2 data, and a wrong --tokenizer, each in one line', async () => {
    const ids = (await loadTokenizer('gpt2')).encode(text)
    const { bin, meta } = await makeTokenFile(ids, { tokenizer: 'gpt2' })
    await writeFile(join(dir, 'bad.bin'), bin.subarray(2))
    await writeFile(join(dir, 'bad.bin.json'), JSON.stringify(meta))
    await expect(loadTrainOptions(base('--config', join(dir, 'gpt2.json'), '--data', join(dir, 'bad.bin')))).rejects.toThrow(/bad\.bin\.json\): the file has \d+ bytes, the sidecar's \d+ tokens need \d+; sha256 is/)
    await writeFile(join(dir, 'good.bin'), bin)
    await writeFile(join(dir, 'good.bin.json'), JSON.stringify(meta))
    await expect(loadTrainOptions(base('--config', join(dir, 'bytes.json'), '--data', join(dir, 'good.bin')))).rejects.toThrow(/gpt2 tokens need vocab ≥ 50257, the model has 256/)
    await expect(loadTrainOptions(base('--config', join(dir, 'gpt2.json'), '--data', join(dir, 'good.bin'), '--tokenizer', 'bytes'))).rejects.toThrow(/says the file holds gpt2 tokens/)
    await expect(loadTrainOptions(base('--config', join(dir, 'gpt2.json'), '--data', join(dir, 'corpus.txt'), '--tokenizer', 'gpt5'))).rejects.toMatchObject({ name: 'UsageError' })
  })

  it('takes a plain .bin (no sidecar) of ids below a small vocabulary, as before token files had sidecars', async () => {
    const { bin } = await makeTokenFile(Array.from({ length: 300 }, (_, i) => i % 61), { tokenizer: 'bytes' })
    await writeFile(join(dir, 'plain.bin'), bin)
    await writeFile(join(dir, 'v61.json'), JSON.stringify({ vocab: 61, d_model: 16, n_layer: 2, n_head: 2, n_ctx: 16 }))
    const o = await loadTrainOptions(base('--config', join(dir, 'v61.json'), '--data', join(dir, 'plain.bin')))
    expect(o.tokenizer).toBeNull()
    expect(o.tokens!.length).toBe(300)
    expect(o.validation).toBeNull()
    await writeFile(join(dir, 'v50.json'), JSON.stringify({ vocab: 50, d_model: 16, n_layer: 2, n_head: 2, n_ctx: 16 }))
    await expect(loadTrainOptions(base('--config', join(dir, 'v50.json'), '--data', join(dir, 'plain.bin')))).rejects.toThrow(/outside the vocabulary \(50\)/)
  })

  it('takes the GPT-2 presets by name', async () => {
    const o = await loadTrainOptions(['--config', 'gpt2-124m', '--steps', '0'])
    expect(o.config).toEqual({ vocab: 50257, d_model: 768, n_layer: 12, n_head: 12, n_ctx: 1024 })
  })
})
