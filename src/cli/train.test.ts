// The CLI trainer run in-process (trainMain) on Node's WebGPU (Dawn; SwiftShader on CI machines),
// on a tiny model so that a few dozen steps fit in a unit test.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { trainMain, type TrainIo } from './train-main.ts'
import { TrainProgress } from './train-progress.ts'
import { requestNodeDevice } from '../node/webgpu.ts'
import { decodeSafetensors } from '../model/safetensors.ts'
import { fullRange, type GPTConfig } from '../model/config.ts'
import { stageLayout } from '../model/params.ts'
import { initStageParams } from '../model/init.ts'
import { stageForward } from '../model/cpu/gpt.ts'
import { compareClose, describeClose } from '../gpu/numerics.ts'

const DATA = 'public/datasets/sotu-excerpt.txt'
const config: GPTConfig = { vocab: 256, d_model: 32, n_layer: 2, n_head: 2, n_ctx: 16 }
const B = 2; const T = 16

let dir: string
let configPath: string
let device: GPUDevice

interface Run { code: number, stdout: string, stderr: string }

async function run (args: string[], withDevice = true): Promise<Run> {
  let stdout = ''; let stderr = ''
  const io: TrainIo = {
    stdout: { write: (s: string) => { stdout += s }, isTTY: false },
    stderr: { write: (s: string) => { stderr += s }, isTTY: false },
    device: withDevice ? device : undefined
  }
  const code = await trainMain(args, io)
  return { code, stdout, stderr }
}

const tiny = (...more: string[]): string[] => ['--config', configPath, '--data', DATA, '--batch', String(B), '--seq', String(T), ...more]
const readJson = async (path: string): Promise<{ steps: Array<{ step: number, loss: number }>, tokens_per_second: number }> => JSON.parse(await readFile(path, 'utf8'))

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tabgrad-train-'))
  configPath = join(dir, 'model.json')
  await writeFile(configPath, JSON.stringify(config))
  device = (await requestNodeDevice('train.test')).device
}, 120_000)

afterAll(async () => {
  device?.destroy()
  await rm(dir, { recursive: true, force: true })
})

describe('npm run train', () => {
  test('the loss falls clearly over 30 steps; --out, then --init with --sample, generates the same text', async () => {
    const out = join(dir, 'trained.safetensors'); const json = join(dir, 'metrics.json')
    const sample = ['--sample', '12', '--temperature', '0', '--prompt', 'The ']
    const r = await run(tiny('--steps', '30', '--lr', '1e-2', '--out', out, '--json', json, ...sample))
    expect(r.code, r.stderr).toBe(0)
    const m = await readJson(json)
    expect(m.steps.map(s => s.step)).toEqual(Array.from({ length: 30 }, (_, i) => i))
    const first = m.steps[0].loss
    const last5 = m.steps.slice(-5).reduce((a, s) => a + s.loss, 0) / 5
    expect(first).toBeGreaterThan(5) // ≈ ln 256 from the init
    expect(last5, `loss ${first} → ${last5}`).toBeLessThan(first - 1)
    expect(m.tokens_per_second).toBeGreaterThan(0)
    expect(r.stdout.startsWith('The ')).toBe(true)

    // The trained file alone reproduces the trained model's greedy text.
    const again = await run(['--init', out, '--steps', '0', '--seq', String(T), ...sample])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toBe(r.stdout)
  }, 600_000)

  test('--no-shuffle step 0 reads DESIGN\'s windows; --stages 2 gives the loss and --grads of --stages 1', async () => {
    const seed = 3
    const runs = []
    for (const stages of [1, 2]) {
      const grads = join(dir, `grads${stages}.safetensors`); const json = join(dir, `g${stages}.json`)
      const r = await run(tiny('--steps', '1', '--lr', '1e-3', '--seed', String(seed), '--no-shuffle', '--stages', String(stages), '--grads', grads, '--json', json))
      expect(r.code, r.stderr).toBe(0)
      runs.push({ loss: (await readJson(json)).steps[0].loss, grads: decodeSafetensors(new Uint8Array(await readFile(grads))) })
    }
    // The float64 reference on row b = offset b·T of the corpus, from the seed's init.
    const full = stageLayout(config, fullRange(config))
    const tokens = Uint32Array.from(await readFile(DATA))
    // DESIGN's --no-shuffle windows for step 0, written out here so the check does not reuse the loader.
    const inputs = new Uint32Array(B * T)
    const targets = new Uint32Array(B * T)
    for (let b = 0; b < B; b++) {
      inputs.set(tokens.subarray(b * T, b * T + T), b * T)
      targets.set(tokens.subarray(b * T + 1, b * T + T + 1), b * T)
    }
    const ref = stageForward(full, Float64Array.from(initStageParams(full, seed)), inputs, B, T, targets).loss!
    expect(Math.abs(runs[0].loss - ref)).toBeLessThan(1e-4)
    expect(Math.abs(runs[1].loss - runs[0].loss)).toBeLessThan(1e-5)

    // The design's names and Hugging Face shapes, the same in both splits.
    const [g1, g2] = runs.map(r => r.grads)
    expect([...g1.tensors.keys()].sort()).toEqual(full.views.map(v => v.name).sort())
    const C = config.d_model
    const shapes: Record<string, number[]> = {
      'transformer.wte.weight': [256, C],
      'transformer.wpe.weight': [16, C],
      'transformer.h.1.ln_1.weight': [C],
      'transformer.h.0.attn.c_attn.weight': [C, 3 * C],
      'transformer.h.0.attn.c_attn.bias': [3 * C],
      'transformer.h.1.attn.c_proj.weight': [C, C],
      'transformer.h.1.mlp.c_fc.weight': [C, 4 * C],
      'transformer.h.0.mlp.c_proj.weight': [4 * C, C],
      'transformer.ln_f.bias': [C],
      'lm_head.weight': [256, C]
    }
    for (const [name, shape] of Object.entries(shapes)) expect(g1.tensors.get(name)?.shape, name).toEqual(shape)
    for (const [name, t] of g1.tensors) {
      const other = g2.tensors.get(name)!
      expect(other.shape).toEqual(t.shape)
      let max = 0
      for (const x of t.data) max = Math.max(max, Math.abs(x))
      const c = compareClose(other.data, Float64Array.from(t.data), { rtol: 1e-4, atol: 1e-4 * max + 1e-30 })
      expect(c.ok, describeClose(name, c)).toBe(true)
    }
  }, 300_000)

  test('bad flags and files: one line, exit code 2, nothing written', async () => {
    const out = join(dir, 'never.safetensors')
    const bad = join(dir, 'bad.json')
    await writeFile(bad, '{"vocab": 256, "d_model": 30, "n_layer": 1, "n_head": 4, "n_ctx": 8}')
    const cases: Array<[string[], RegExp]> = [
      [tiny('--steps', '2', '--lr', '1e-3', '--bogus', '1'), /unknown flag --bogus/],
      [tiny('--steps', 'two', '--lr', '1e-3'), /--steps must be a whole number/],
      [tiny('--steps', '2', '--lr', 'fast'), /--lr must be a number/],
      [tiny('--steps', '2'), /--lr is required/],
      [['--config', configPath, '--steps', '2', '--batch', '2', '--seq', '16', '--lr', '1'], /--data is required/],
      [['--config', join(dir, 'missing.json'), '--data', DATA, '--steps', '1', '--batch', '1', '--seq', '4', '--lr', '1'], /missing\.json: no such file/],
      [['--config', bad, '--data', DATA, '--steps', '1', '--batch', '1', '--seq', '4', '--lr', '1'], /not divisible by n_head/],
      [tiny('--steps', '2', '--lr', '1e-3', '--seq', '17'), /longer than the model's context/],
      [tiny('--steps', '2', '--lr', '1e-3', '--stages', '3'), /cannot split 2 layers into 3 stages/],
      [['--config', configPath, '--data', join(dir, 'missing.txt'), '--steps', '1', '--batch', '1', '--seq', '4', '--lr', '1'], /no such file/],
      [tiny('--steps', '2', '--lr', '1e-3', '--init', configPath), /--init/],
      [tiny('--steps', '2', '--lr', '1e-3', '--out', join(dir, 'no', 'such', 'dir.safetensors')), /does not exist/],
      [tiny('--steps', '2', '--lr', '1e-3', '--out', DATA), /would overwrite an input/],
      [tiny('--steps', '0', '--grads', out), /--grads needs --steps/]
    ]
    for (const [args, message] of cases) {
      const r = await run(args.includes('--out') ? args : [...args, '--out', out], false)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr, args.join(' ')).toMatch(message)
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1)
      expect(existsSync(out)).toBe(false)
    }
    // A token outside the vocabulary of a uint16 file.
    const bin = join(dir, 'big.bin')
    await writeFile(bin, new Uint8Array(new Uint16Array(64).fill(300).buffer))
    const r = await run(['--config', configPath, '--data', bin, '--steps', '1', '--batch', '1', '--seq', '4', '--lr', '1'], false)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/outside the vocabulary/)
  })
})

describe('TrainProgress', () => {
  test('a TTY gets one updating line, a pipe gets log lines', () => {
    let tty = ''; let plain = ''
    const a = new TrainProgress({ write: s => { tty += s }, isTTY: true, columns: 100 }, { steps: 3, tokensPerStep: 32 })
    const b = new TrainProgress({ write: s => { plain += s }, isTTY: false }, { steps: 3, tokensPerStep: 32 })
    for (let step = 0; step < 3; step++) for (const p of [a, b]) p.step({ step, loss: 5 - step, ms: 100 })
    expect(tty.split('\n')).toEqual([expect.stringContaining('step 3/3'), ''])
    expect(tty).toContain('\r')
    expect(tty).toMatch(/320 tok\/s \| ETA 0:00/)
    expect(plain.trim().split('\n')).toHaveLength(3)
    expect(plain).not.toContain('\r')
  })
})
