// `npm run train` flags (DESIGN.md "Commands") → checked options and loaded inputs. Everything the
// run needs is read and validated here, before any GPU work, so bad input costs nothing and
// writes nothing.
import { readFile, stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { UsageError, intFlag, parseFlags } from './args.ts'
import { PRESETS, splitStages, validateConfig, type GPTConfig } from '../model/config.ts'
import { importStage } from '../model/checkpoint.ts'
import { decodeSafetensors } from '../model/safetensors.ts'
import { exportRange, importHfCheckpoint } from '../model/hf-checkpoint.ts'
import { ModelError } from '../model/errors.ts'
import { decodeTokens, formatOfPath, TokenLoader } from '../train/data.ts'
import { TrainError } from '../train/errors.ts'
import { isTokenizerName, loadTokenizer, TOKENIZER_NAMES, TOKENIZER_VOCAB, type TokenizerName } from '../tokenizer/tokenizer.ts'
import { tokenizeDocuments } from '../data/corpus.ts'
import { parseTokenFileMeta, readTokenFile, splitValidation } from '../data/token-file.ts'
import { TokenFileError } from '../data/errors.ts'

export const USAGE = `usage: npm run train -- --config model.json|tiny|small|base [--init in.safetensors] --data FILE
  --steps N --batch B --seq T --lr X [--seed S] [--stages S] [--no-shuffle]
  [--out out.safetensors] [--grads grads.safetensors] [--json metrics.json]
  [--sample N] [--prompt TEXT] [--temperature X] [--top-k K] [--clip X] [--weight-decay X]
  [--tokenizer bytes|gpt2] [--validation N] [--val-every N] [--val-batches K] [--export-hf DIR]
--data: .txt (tokenized with --tokenizer, default bytes) or .bin (uint16 LE tokens; its sidecar
  FILE.bin.json, from npm run tokenize, names the tokenizer and the held-out tail); optional with --steps 0.
--validation N: hold out the last N tokens (default: the sidecar's, else none); --val-every N
  evaluates them every N steps (default: steps/10) on K fixed microbatches (default 4).
--init: our checkpoints or Hugging Face GPT-2 safetensors (tied lm_head is copied from wte).
--export-hf DIR: DIR/model.safetensors and DIR/config.json that GPT2LMHeadModel.from_pretrained(DIR)
  loads; with --stages S also DIR/stage-K.safetensors, each stage's tensors alone.
--config: a JSON file or a preset (${Object.keys(PRESETS).join(', ')}); optional with --init when
  the checkpoint carries its config.`

/** Bad flags or input files: the CLI prints one line and exits with 2. */
export class TrainInputError extends Error {
  override name = 'TrainInputError'
}

export interface TrainOptions {
  config: GPTConfig
  /** where the config came from (a file or a preset name) */
  configSource: string
  /** full-model safetensors (`--init`), converted to our layout (HF names, tied head untied) */
  init: Uint8Array | null
  initPath: string | null
  /** how --init was read: e.g. "lm_head copied from wte (tied)" */
  initNotes: string[]
  /** `--export-hf DIR`: model.safetensors + config.json (and stage-K.safetensors with --stages > 1) */
  exportHf: string | null
  /** training tokens (the dataset less its held-out tail), null only with --steps 0 and no --data */
  tokens: Uint32Array | null
  dataPath: string | null
  /** the tokenizer of the data and of --prompt/--sample text; null for a plain .bin of ids (no sidecar, no --tokenizer) */
  tokenizer: TokenizerName | null
  /** held-out tokens, or null */
  validation: Uint32Array | null
  /** evaluate every this many steps (0 = never) */
  valEvery: number
  valBatches: number
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

const VALUES = ['export-hf', 'config', 'init', 'data', 'steps', 'batch', 'seq', 'lr', 'seed', 'stages', 'out', 'grads', 'json',
  'sample', 'prompt', 'temperature', 'top-k', 'clip', 'weight-decay', 'tokenizer', 'validation', 'val-every', 'val-batches']

/** Parses argv and loads the files it names; throws TrainInputError (or UsageError) on bad input. */
export async function loadTrainOptions (argv: string[]): Promise<TrainOptions> {
  const flags = parseFlags(argv, { values: VALUES, booleans: ['no-shuffle'] }, USAGE)
  const str = (name: string): string | null => {
    const v = flags.get(name)
    return typeof v === 'string' ? v : null
  }

  const initPath = str('init')
  const initFile = initPath != null ? await readInput(initPath, '--init') : null
  const { config, source } = await loadConfig(str('config'), initFile)
  let init: Uint8Array | null = null
  const initNotes: string[] = []
  if (initFile != null) {
    // Our own files carry their config: it must be this one. Hugging Face files carry none; their names and shapes are checked.
    const fileConfig = checked(`--init ${initPath}`, () => decodeSafetensors(initFile).metadata.config)
    if (fileConfig != null) checked(`--init ${initPath}`, () => importStage(initFile, { config }))
    const imp = checked(`--init ${initPath}`, () => importHfCheckpoint(initFile, config))
    if (imp.tiedHead) initNotes.push('lm_head copied from the tied wte')
    if (imp.skipped.length > 0) initNotes.push(`${imp.skipped.length} attention-mask buffers skipped`)
    init = exportRange(imp)
  }

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
  const tokenizerFlag = str('tokenizer')
  if (tokenizerFlag != null && !isTokenizerName(tokenizerFlag)) throw new UsageError(`--tokenizer must be one of ${TOKENIZER_NAMES.join(', ')}, got "${tokenizerFlag}"\n${USAGE}`)
  let tokenizer: TokenizerName | null = tokenizerFlag ?? (dataPath == null || formatOfPath(dataPath) === 'bytes' ? 'bytes' : null)
  let tokens: Uint32Array | null = null
  let validation: Uint32Array | null = null
  if (dataPath != null) {
    const data = await loadData(dataPath, tokenizerFlag)
    tokenizer = data.tokenizer
    if (tokenizer != null && TOKENIZER_VOCAB[tokenizer] > config.vocab) throw new TrainInputError(`--data ${dataPath}: ${tokenizer} tokens need vocab ≥ ${TOKENIZER_VOCAB[tokenizer]}, the model has ${config.vocab}`)
    const held = flags.has('validation') ? intFlag(flags, 'validation', 0, USAGE, 0) : data.validationTokens
    const split = checked(`--data ${dataPath}`, () => splitValidation(data.tokens, held))
    tokens = split.train
    validation = held > 0 ? split.validation : null
    // The loader checks length and vocabulary now, not after the GPU is set up.
    const t = tokens
    checked(`--data ${dataPath}`, () => new TokenLoader(t, { B, T, vocab: config.vocab }))
    if (validation != null) { const v = validation; checked(`--data ${dataPath} (validation split)`, () => new TokenLoader(v, { B, T, vocab: config.vocab })) }
  }
  const valEvery = validation == null ? 0 : intFlag(flags, 'val-every', Math.max(1, Math.round(steps / 10)), USAGE)
  const valBatches = intFlag(flags, 'val-batches', 4, USAGE)

  const grads = str('grads')
  if (grads != null && !training) throw new TrainInputError('--grads needs --steps ≥ 1 (it writes the first step\'s gradients)')
  const outputs = { out: str('out'), grads, json: str('json') }
  const exportHf = str('export-hf')
  if (exportHf != null) {
    const s = await stat(exportHf).catch(() => null)
    if (s != null && !s.isDirectory()) throw new TrainInputError(`--export-hf ${exportHf} is a file, not a directory`)
    if (s == null) await checkWritableDir(exportHf, '--export-hf')
  }
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
  const promptTokenizer = tokenizer ?? 'bytes'
  if (prompt != null && config.vocab < TOKENIZER_VOCAB[promptTokenizer]) throw new TrainInputError(`--prompt is ${promptTokenizer}-tokenized text, which needs vocab ≥ ${TOKENIZER_VOCAB[promptTokenizer]} (this model has ${config.vocab})`)

  return {
    config, configSource: source, init, initPath, initNotes, exportHf, tokens, dataPath, tokenizer, validation, valEvery, valBatches,
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

// ---- data

/**
 * `.txt`: tokenized here (gpt2 puts <|endoftext|> first, as the tracker's tokenizer does). `.bin`
 * with a sidecar: checked against it (size, sha256, ids < vocab). `.bin` without: plain uint16.
 */
async function loadData (path: string, tokenizerFlag: TokenizerName | null): Promise<{ tokens: Uint32Array, tokenizer: TokenizerName | null, validationTokens: number }> {
  const bytes = await readInput(path, '--data')
  if (formatOfPath(path) === 'bytes') {
    const name = tokenizerFlag ?? 'bytes'
    if (name === 'bytes') return { tokens: decodeTokens(bytes, 'bytes'), tokenizer: name, validationTokens: 0 }
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    } catch {
      throw new TrainInputError(`--data ${path} is not valid UTF-8 text`)
    }
    return { tokens: await tokenizeDocuments(await loadTokenizer(name), [text]), tokenizer: name, validationTokens: 0 }
  }
  const sidecar = await readFile(`${path}.json`, 'utf8').catch(() => null)
  // No sidecar: plain ids, checked against the model's vocabulary only (as before token files had one).
  if (sidecar == null) return { tokens: checked(`--data ${path}`, () => decodeTokens(bytes, 'uint16')), tokenizer: tokenizerFlag, validationTokens: 0 }
  try {
    const meta = parseTokenFileMeta(JSON.parse(sidecar))
    if (tokenizerFlag != null && tokenizerFlag !== meta.tokenizer) throw new TrainInputError(`--tokenizer ${tokenizerFlag}, but ${path}.json says the file holds ${meta.tokenizer} tokens`)
    return { tokens: await readTokenFile(bytes, meta), tokenizer: meta.tokenizer, validationTokens: meta.validation_tokens }
  } catch (e) {
    if (e instanceof TokenFileError) throw new TrainInputError(`--data ${path} (with ${path}.json): ${e.message}`)
    if (e instanceof SyntaxError) throw new TrainInputError(`--data ${path}: the sidecar ${path}.json is not valid JSON`)
    throw e
  }
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
