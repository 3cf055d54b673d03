// `npm run train` flags (DESIGN.md "Commands") → checked options and loaded inputs. Everything the
// run needs is read and validated here, before any GPU work, so bad input costs nothing and
// writes nothing.
import { readFile, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { UsageError, intFlag, parseFlags } from './args.ts'
import { PRESETS, splitStages, validateConfig, type GPTConfig } from '../model/config.ts'
import { importStage } from '../model/checkpoint.ts'
import { ModelError } from '../model/errors.ts'
import { decodeTokens, formatOfPath, TokenLoader } from '../train/data.ts'
import { TrainError } from '../train/errors.ts'

export const USAGE = `usage: npm run train -- --config model.json|tiny|small|base [--init in.safetensors] --data FILE
  --steps N --batch B --seq T --lr X [--seed S] [--stages S] [--no-shuffle]
  [--out out.safetensors] [--grads grads.safetensors] [--json metrics.json]
  [--sample N] [--prompt TEXT] [--temperature X] [--top-k K] [--clip X] [--weight-decay X]
--data: .txt (UTF-8 bytes are tokens) or .bin (uint16 LE tokens); optional with --steps 0.
--config: optional with --init when the checkpoint carries its config.`

/** Bad flags or input files: the CLI prints one line and exits with 2. */
export class TrainInputError extends Error {
  override name = 'TrainInputError'
}

export interface TrainOptions {
  config: GPTConfig
  /** where the config came from (a file or a preset name) */
  configSource: string
  /** full-model safetensors (`--init`) */
  init: Uint8Array | null
  initPath: string | null
  /** dataset tokens, null only with --steps 0 and no --data */
  tokens: Uint32Array | null
  dataPath: string | null
  steps: number
  B: number
  T: number
  lr: number
  seed: number
  stages: number
  shuffle: boolean
  gradClip: number
  weightDecay: number
  out: string | null
  grads: string | null
  json: string | null
  /** tokens to generate after training (`--sample N`), 0 = none */
  sample: number
  prompt: string | null
  temperature: number
  topK: number
}

const VALUES = ['config', 'init', 'data', 'steps', 'batch', 'seq', 'lr', 'seed', 'stages', 'out', 'grads', 'json',
  'sample', 'prompt', 'temperature', 'top-k', 'clip', 'weight-decay']

/** Parses argv and loads the files it names; throws TrainInputError (or UsageError) on bad input. */
export async function loadTrainOptions (argv: string[]): Promise<TrainOptions> {
  const flags = parseFlags(argv, { values: VALUES, booleans: ['no-shuffle'] }, USAGE)
  const str = (name: string): string | null => {
    const v = flags.get(name)
    return typeof v === 'string' ? v : null
  }

  const initPath = str('init')
  const init = initPath != null ? await readInput(initPath, '--init') : null
  const { config, source } = await loadConfig(str('config'), init)
  if (init != null) checked(`--init ${initPath}`, () => importStage(init, { config }))

  const steps = intFlag(flags, 'steps', undefined, USAGE, 0)
  const training = steps > 0
  const B = intFlag(flags, 'batch', training ? undefined : 1, USAGE)
  const T = intFlag(flags, 'seq', training ? undefined : Math.min(64, config.n_ctx), USAGE)
  if (T > config.n_ctx) throw new TrainInputError(`--seq ${T} is longer than the model's context n_ctx = ${config.n_ctx}`)
  const stages = intFlag(flags, 'stages', 1, USAGE)
  checked('--stages', () => splitStages(config, stages))
  const seed = intFlag(flags, 'seed', 0, USAGE, 0)
  const lr = numberFlag(flags, 'lr', training ? undefined : 0, 0)
  const gradClip = numberFlag(flags, 'clip', 1, 0)
  const weightDecay = numberFlag(flags, 'weight-decay', 0, 0)

  const dataPath = str('data')
  if (dataPath == null && training) throw new UsageError(`--data is required when --steps > 0\n${USAGE}`)
  let tokens: Uint32Array | null = null
  if (dataPath != null) {
    tokens = checked(`--data ${dataPath}`, data => decodeTokens(data, formatOfPath(dataPath)), await readInput(dataPath, '--data'))
    // The loader checks length and vocabulary now, not after the GPU is set up.
    const t = tokens
    checked(`--data ${dataPath}`, () => new TokenLoader(t, { B, T, vocab: config.vocab }))
  }

  const grads = str('grads')
  if (grads != null && !training) throw new TrainInputError('--grads needs --steps ≥ 1 (it writes the first step\'s gradients)')
  const outputs = { out: str('out'), grads, json: str('json') }
  const inputs = new Set([initPath, dataPath].filter(p => p != null).map(p => resolve(p)))
  const seen = new Set<string>()
  for (const [flag, path] of Object.entries(outputs)) {
    if (path == null) continue
    const abs = resolve(path)
    if (inputs.has(abs)) throw new TrainInputError(`--${flag} ${path} would overwrite an input file`)
    if (seen.has(abs)) throw new TrainInputError(`--${flag} ${path} is also named by another output flag`)
    seen.add(abs)
    await checkWritableDir(path, `--${flag}`)
  }

  const sample = intFlag(flags, 'sample', 0, USAGE, 0)
  const prompt = str('prompt')
  if (prompt != null && prompt.length === 0) throw new TrainInputError('--prompt must not be empty')
  if (prompt != null && config.vocab < 256) throw new TrainInputError(`--prompt is UTF-8 text, which needs a byte vocabulary (vocab ≥ 256, this model has ${config.vocab})`)

  return {
    config, configSource: source, init, initPath, tokens, dataPath,
    steps, B, T, lr, seed, stages, shuffle: flags.get('no-shuffle') !== true, gradClip, weightDecay,
    ...outputs,
    sample, prompt,
    temperature: numberFlag(flags, 'temperature', 1, 0),
    topK: intFlag(flags, 'top-k', 0, USAGE, 0)
  }
}

// ---- config

async function loadConfig (arg: string | null, init: Uint8Array | null): Promise<{ config: GPTConfig, source: string }> {
  if (arg == null) {
    if (init == null) throw new UsageError(`--config is required (a JSON file or a preset: ${Object.keys(PRESETS).join(', ')})\n${USAGE}`)
    const meta = checked('--init', () => importStage(init)).layout.config
    return { config: meta, source: 'the --init checkpoint' }
  }
  if (!arg.endsWith('.json') && Object.hasOwn(PRESETS, arg)) return { config: { ...PRESETS[arg as keyof typeof PRESETS] }, source: `preset ${arg}` }
  const bytes = await readInput(arg, '--config')
  let json: unknown
  try {
    json = JSON.parse(new TextDecoder().decode(bytes))
  } catch (err) {
    throw new TrainInputError(`--config ${arg} is not valid JSON: ${(err as Error).message}`)
  }
  return { config: checked(`--config ${arg}`, () => validateConfig(json)), source: arg }
}

// ---- helpers

/** Runs f, turning the model's and the loader's input errors into one-line TrainInputErrors. */
function checked<T, A = undefined> (what: string, f: (a: A) => T, arg?: A): T {
  try {
    return f(arg as A)
  } catch (err) {
    if (err instanceof ModelError || err instanceof TrainError) throw new TrainInputError(`${what}: ${err.message}`)
    throw err
  }
}

async function readInput (path: string, flag: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message
    throw new TrainInputError(`${flag} ${path}: ${why}`)
  }
}

async function checkWritableDir (path: string, flag: string): Promise<void> {
  const dir = dirname(resolve(path))
  const s = await stat(dir).catch(() => null)
  if (s == null || !s.isDirectory()) throw new TrainInputError(`${flag} ${path}: directory ${dir} does not exist`)
  const target = await stat(path).catch(() => null)
  if (target?.isDirectory() === true) throw new TrainInputError(`${flag} ${path} is a directory`)
}

function numberFlag (flags: Map<string, string | true>, name: string, fallback: number | undefined, min: number): number {
  const v = flags.get(name)
  if (v == null) {
    if (fallback == null) throw new UsageError(`--${name} is required\n${USAGE}`)
    return fallback
  }
  const n = Number(v)
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || n < min) throw new UsageError(`--${name} must be a number ≥ ${min}, got "${String(v)}"\n${USAGE}`)
  return n
}
