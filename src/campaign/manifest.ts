// The campaign manifest: one schema, validated the same way in the browser form and on the
// tracker. Errors are per field so the form can show them inline.
import { validateSwarmSettings, type SwarmSettings } from './swarm-settings.ts'
import { validateCodecSettings, type CodecSettings } from './codec-settings.ts'
import { isTokenizerName, TOKENIZER_NAMES, TOKENIZER_VOCAB, type TokenizerName } from '../tokenizer/tokenizer.ts'
import { splitStages } from '../model/config.ts'
import { stageMemory } from '../model/memory.ts'
import { formatShareLink } from './share-link.ts'

export interface ModelSection {
  vocab: number
  d_model: number
  n_layer: number
  n_head: number
  n_ctx: number
}

export interface DatasetSection {
  name: string
  /** Path on the tracker's origin (e.g. `/datasets/sotu-excerpt.txt`). */
  url: string
  sha256: string
  bytes: number
  /** `bytes`: UTF-8 bytes are tokens (vocab 256). `uint16`: little-endian token ids. */
  format: 'bytes' | 'uint16'
  // ---- tokenizer and held-out split (absent in older manifests, whose ids stay unchanged)
  /** The tokenizer that made the ids (src/tokenizer). @default 'bytes' */
  tokenizer?: TokenizerName
  /** The last this many tokens are held out for validation, never trained on. @default 0 */
  validation_tokens?: number
}

export interface TrainingSection {
  /** Rows per microbatch (B). */
  microbatch: number
  /** Microbatches accumulated per optimizer step. */
  accumulation: number
  /** Sequence length T (≤ n_ctx). */
  seq_len: number
  lr: number
  lr_schedule: 'constant' | 'cosine'
  warmup_steps: number
  /** Optimizer steps the campaign runs for. */
  steps: number
  weight_decay: number
  /** Global-norm clip; 0 disables. */
  grad_clip: number
  /** Replicas of a stage average weights every this many optimizer steps. */
  sync_every: number
  seed: number
}

export interface CampaignManifest {
  version: 1
  name: string
  description: string
  model: ModelSection
  /** Pipeline stages (contiguous layer ranges). */
  stages: number
  dataset: DatasetSection
  training: TrainingSection
  /** Fraction of microbatches run twice on two replicas to check each other (0..1). */
  spot_check_rate: number
  // ---- swarm engine settings (src/campaign/swarm-settings.ts)
  /** Pipeline schedule and replica sync; absent = defaults. */
  swarm?: Partial<SwarmSettings>
  // ---- boundary codec (src/campaign/codec-settings.ts)
  /** How activations and gradients are encoded between stages; absent = fp32. */
  codec?: CodecSettings
  // ---- fine-tuning (absent: every stage starts from the seed's deterministic init)
  /** A checkpoint uploaded to this tracker (POST /api/checkpoints), by its sha256: the seed weights. */
  init?: { sha256: string }
}

export interface FieldError {
  /** Dotted path of the field, e.g. `training.lr`. */
  path: string
  message: string
}

export type ValidationResult =
  | { ok: true, manifest: CampaignManifest }
  | { ok: false, errors: FieldError[] }

// Limits that keep a campaign trainable in a browser tab; each bounds memory or wire size.
export const MANIFEST_LIMITS = {
  nameLength: 80,
  descriptionLength: 1000,
  vocab: 65536,
  d_model: 4096,
  n_layer: 96,
  n_head: 64,
  n_ctx: 4096,
  stages: 64,
  microbatch: 1024,
  accumulation: 1024,
  steps: 10_000_000,
  /**
   * A tab allocates the whole token file (and its decoded ids): the tracker's upload limit
   * (dataset-routes.ts MAX_DATASET_BYTES), so no manifest can make a tab allocate more.
   */
  datasetBytes: 32 * 1024 * 1024,
  /**
   * GPU memory one stage may need (fp32 weights, gradients, AdamW moments and one microbatch's
   * activations, model/memory.ts): 8 GiB is a large consumer GPU, and bounds what a manifest
   * can make every volunteer's tab try to allocate.
   */
  stageBytes: 8 * 1024 ** 3
} as const

type Obj = Record<string, unknown>

function isObj (v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

class Checker {
  errors: FieldError[] = []

  fail (path: string, message: string): void {
    this.errors.push({ path, message })
  }

  int (o: Obj, key: string, prefix: string, min: number, max: number): number {
    const path = prefix + key
    const v = o[key]
    if (typeof v !== 'number' || !Number.isInteger(v)) { this.fail(path, 'must be a whole number'); return NaN }
    if (v < min || v > max) { this.fail(path, `must be between ${min} and ${max}`); return NaN }
    return v
  }

  num (o: Obj, key: string, prefix: string, min: number, max: number, exclusiveMin = false): number {
    const path = prefix + key
    const v = o[key]
    if (typeof v !== 'number' || !Number.isFinite(v)) { this.fail(path, 'must be a number'); return NaN }
    if (exclusiveMin ? v <= min : v < min) { this.fail(path, exclusiveMin ? `must be greater than ${min}` : `must be at least ${min}`); return NaN }
    if (v > max) { this.fail(path, `must be at most ${max}`); return NaN }
    return v
  }

  str (o: Obj, key: string, prefix: string, maxLen: number, required = true): string {
    const path = prefix + key
    const v = o[key]
    if (v == null && !required) return ''
    if (typeof v !== 'string') { this.fail(path, 'must be text'); return '' }
    if (required && v.trim() === '') { this.fail(path, 'is required'); return '' }
    if (v.length > maxLen) { this.fail(path, `must be at most ${maxLen} characters`); return '' }
    return v
  }

  oneOf<T extends string> (o: Obj, key: string, prefix: string, options: readonly T[]): T {
    const v = o[key]
    if (typeof v !== 'string' || !options.includes(v as T)) { this.fail(prefix + key, `must be one of ${options.join(', ')}`); return options[0] }
    return v as T
  }

  section (o: Obj, key: string): Obj {
    const v = o[key]
    if (!isObj(v)) { this.fail(key, 'is missing'); return {} }
    return v
  }
}

export function validateManifest (input: unknown): ValidationResult {
  const c = new Checker()
  if (!isObj(input)) return { ok: false, errors: [{ path: '', message: 'manifest must be a JSON object' }] }
  if (input.version !== 1) c.fail('version', 'must be 1')
  const L = MANIFEST_LIMITS
  const name = c.str(input, 'name', '', L.nameLength)
  const description = c.str(input, 'description', '', L.descriptionLength, false)

  const m = c.section(input, 'model')
  const model: ModelSection = {
    vocab: c.int(m, 'vocab', 'model.', 2, L.vocab),
    d_model: c.int(m, 'd_model', 'model.', 4, L.d_model),
    n_layer: c.int(m, 'n_layer', 'model.', 1, L.n_layer),
    n_head: c.int(m, 'n_head', 'model.', 1, L.n_head),
    n_ctx: c.int(m, 'n_ctx', 'model.', 1, L.n_ctx)
  }
  const ok = (...xs: number[]): boolean => xs.every(Number.isFinite)
  if (!ok(model.d_model, model.n_head)) { /* already reported */ } else if (model.d_model % model.n_head !== 0) c.fail('model.n_head', `must divide d_model (${model.d_model})`)
  else if ((model.d_model / model.n_head) % 4 !== 0) c.fail('model.n_head', 'head size (d_model / n_head) must be a multiple of 4')

  const stages = c.int(input, 'stages', '', 1, L.stages)
  if (ok(stages, model.n_layer) && stages > model.n_layer) c.fail('stages', `must be at most n_layer (${model.n_layer}): each stage needs at least one layer`)

  const d = c.section(input, 'dataset')
  const dataset: DatasetSection = {
    name: c.str(d, 'name', 'dataset.', 120),
    url: c.str(d, 'url', 'dataset.', 500),
    sha256: c.str(d, 'sha256', 'dataset.', 64),
    bytes: c.int(d, 'bytes', 'dataset.', 1, L.datasetBytes),
    format: c.oneOf(d, 'format', 'dataset.', ['bytes', 'uint16'] as const)
  }
  if (dataset.sha256 !== '' && !/^[0-9a-f]{64}$/.test(dataset.sha256)) c.fail('dataset.sha256', 'must be 64 lowercase hex digits')
  if (dataset.url !== '' && !/^\/[A-Za-z0-9._~\-/]+$/.test(dataset.url)) c.fail('dataset.url', 'must be a path on the tracker, such as /datasets/corpus.txt')
  if (dataset.format === 'bytes' && ok(model.vocab) && model.vocab < 256) c.fail('model.vocab', 'must be at least 256 for a byte-level dataset')
  if (dataset.format === 'uint16' && dataset.bytes % 2 !== 0) c.fail('dataset.bytes', 'a uint16 token file must have an even length')
  if (d.tokenizer != null) {
    if (!isTokenizerName(d.tokenizer)) c.fail('dataset.tokenizer', `must be one of ${TOKENIZER_NAMES.join(', ')}`)
    else {
      dataset.tokenizer = d.tokenizer
      const V = TOKENIZER_VOCAB[d.tokenizer]
      if (d.tokenizer !== 'bytes' && dataset.format !== 'uint16') c.fail('dataset.format', `a ${d.tokenizer} dataset is a uint16 token file`)
      if (ok(model.vocab) && model.vocab < V) c.fail('model.vocab', `must be at least ${V} for the ${d.tokenizer} tokenizer`)
    }
  }
  if (d.validation_tokens != null) dataset.validation_tokens = c.int(d, 'validation_tokens', 'dataset.', 0, Number.MAX_SAFE_INTEGER)

  const t = c.section(input, 'training')
  const training: TrainingSection = {
    microbatch: c.int(t, 'microbatch', 'training.', 1, L.microbatch),
    accumulation: c.int(t, 'accumulation', 'training.', 1, L.accumulation),
    seq_len: c.int(t, 'seq_len', 'training.', 1, L.n_ctx),
    lr: c.num(t, 'lr', 'training.', 0, 1, true),
    lr_schedule: c.oneOf(t, 'lr_schedule', 'training.', ['constant', 'cosine'] as const),
    warmup_steps: c.int(t, 'warmup_steps', 'training.', 0, L.steps),
    steps: c.int(t, 'steps', 'training.', 1, L.steps),
    weight_decay: c.num(t, 'weight_decay', 'training.', 0, 1),
    grad_clip: c.num(t, 'grad_clip', 'training.', 0, 1e6),
    sync_every: c.int(t, 'sync_every', 'training.', 1, L.steps),
    seed: c.int(t, 'seed', 'training.', 0, 2 ** 31 - 1)
  }
  if (ok(training.seq_len, model.n_ctx) && training.seq_len > model.n_ctx) c.fail('training.seq_len', `must be at most n_ctx (${model.n_ctx})`)
  const tokens = dataset.format === 'uint16' ? dataset.bytes / 2 : dataset.bytes
  const held = dataset.validation_tokens ?? 0
  if (ok(tokens, training.seq_len, held) && tokens - held < training.seq_len + 1) c.fail('dataset.bytes', `the dataset needs at least seq_len + 1 (${training.seq_len + 1}) training tokens${held > 0 ? ` besides the ${held} held out` : ''}`)
  if (ok(held, training.seq_len) && held > 0 && held < training.seq_len + 1) c.fail('dataset.validation_tokens', `must be 0 or at least seq_len + 1 (${training.seq_len + 1}): one validation window`)

  // Only for a model the checks above accept (stageMemory needs a consistent config).
  const sized = !c.errors.some(e => e.path === 'stages' || /^(model|training)\./.test(e.path))
  if (sized && ok(model.vocab, model.d_model, model.n_layer, model.n_head, model.n_ctx, stages, training.microbatch, training.seq_len)) {
    const worst = Math.max(...splitStages(model, stages).map(r => stageMemory(model, r, training.microbatch, training.seq_len).total))
    if (worst > L.stageBytes) c.fail('stages', `the largest stage needs ${(worst / 1024 ** 3).toFixed(1)} GiB of GPU memory; at most ${L.stageBytes / 1024 ** 3} GiB: use more stages, a smaller model or a smaller microbatch`)
  }
  if (ok(training.warmup_steps, training.steps) && training.warmup_steps > training.steps) c.fail('training.warmup_steps', `must be at most steps (${training.steps})`)

  const spot = c.num(input, 'spot_check_rate', '', 0, 1)

  // ---- swarm engine settings
  const swarm = validateSwarmSettings(input.swarm)
  for (const e of swarm.errors) c.fail(e.path, e.message)
  const codec = validateCodecSettings(input.codec)
  for (const e of codec.errors) c.fail(e.path, e.message)

  let init: CampaignManifest['init']
  if (input.init != null) {
    const i = isObj(input.init) ? input.init : {}
    if (typeof i.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(i.sha256)) c.fail('init.sha256', 'must be the 64-hex-digit sha256 the tracker gave the uploaded checkpoint')
    else init = { sha256: i.sha256 }
    for (const k of Object.keys(i)) if (k !== 'sha256') c.fail(`init.${k}`, 'is not a manifest field')
  }

  const known = new Set(['version', 'name', 'description', 'model', 'stages', 'dataset', 'training', 'spot_check_rate', 'swarm', 'codec', 'init'])
  for (const k of Object.keys(input)) if (!known.has(k)) c.fail(k, 'is not a manifest field')

  if (c.errors.length > 0) return { ok: false, errors: c.errors }
  return { ok: true, manifest: { version: 1, name, description, model, stages, dataset, training, spot_check_rate: spot, ...(swarm.value != null ? { swarm: swarm.value } : {}), ...(codec.value != null ? { codec: codec.value } : {}), ...(init != null ? { init } : {}) } }
}

/** JSON with keys sorted at every level: the bytes a campaign id is computed over. */
export function canonicalJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (isObj(value)) return `{${Object.keys(value).sort().map(k => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`
  return JSON.stringify(value)
}

/** Content-addressed campaign id: the first 128 bits of sha256(canonical manifest), hex. */
export async function campaignId (manifest: CampaignManifest): Promise<string> {
  const bytes = new TextEncoder().encode(canonicalJson(manifest))
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  return [...digest.slice(0, 16)].map(b => b.toString(16).padStart(2, '0')).join('')
}

/** The share link; with the tracker's PeerId it pins its key (share-link.ts). */
export function campaignLink (origin: string, id: string, tracker?: string): string {
  return formatShareLink(origin, id, tracker)
}
