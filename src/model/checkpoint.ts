// Stage checkpoints: a stage's flat params ⇄ a safetensors file holding only its own tensors, with
// Hugging Face names (layer indices global) and the config and stage range in __metadata__.
// A full model is the union of its stage files (mergeStages / splitCheckpoint).
import { configsEqual, fullRange, validateConfig, validateRange, type GPTConfig, type StageRange } from './config.ts'
import { stageLayout, viewOf, type StageLayout } from './params.ts'
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from './safetensors.ts'
import { CheckpointConfigError, CheckpointTensorError, ModelError } from './errors.ts'

export interface StageCheckpoint {
  layout: StageLayout
  /** layout.totalElements, alignment padding zero */
  params: Float32Array
  metadata: Record<string, string>
}

export interface ImportExpectation {
  /** reject a file whose config differs; also used when the file carries none (a plain HF file) */
  config?: GPTConfig
  /** reject a file for another stage; also used when the file carries none (default: the full model) */
  range?: StageRange
}

/** The stage's tensors, in buffer order; `extra` metadata entries are kept alongside config and stage. */
export function exportStage (layout: StageLayout, params: Float32Array, extra: Record<string, string> = {}): Uint8Array {
  if (params.length !== layout.totalElements) throw new CheckpointTensorError(`params have ${params.length} elements, the stage layout needs ${layout.totalElements}`)
  const tensors = layout.views.map((v): [string, SafeTensor] => [v.name, { shape: v.shape, data: viewOf(params, v) }])
  const { first, last } = layout.range
  return encodeSafetensors(tensors, { format: 'pt', ...extra, config: JSON.stringify(layout.config), stage: JSON.stringify({ first, last }) })
}

export function importStage (bytes: Uint8Array, expect: ImportExpectation = {}): StageCheckpoint {
  const file = decodeSafetensors(bytes)
  const config = readConfig(file.metadata, expect.config)
  const range = readRange(file.metadata, config, expect.range)
  const layout = stageLayout(config, range)

  const missing = layout.views.filter(v => !file.tensors.has(v.name)).map(v => v.name)
  const unexpected = [...file.tensors.keys()].filter(n => !layout.byName.has(n))
  if (missing.length > 0 || unexpected.length > 0) {
    const parts = []
    if (missing.length > 0) parts.push(`missing ${list(missing)}`)
    if (unexpected.length > 0) parts.push(`unexpected ${list(unexpected)}`)
    throw new CheckpointTensorError(`stage [${range.first}, ${range.last}) checkpoint: ${parts.join('; ')}`)
  }
  const params = new Float32Array(layout.totalElements)
  for (const v of layout.views) {
    const t = file.tensors.get(v.name)!
    if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
      throw new CheckpointTensorError(`tensor "${v.name}" has shape [${t.shape.join(', ')}], the config needs [${v.shape.join(', ')}]`)
    }
    viewOf(params, v).set(t.data)
  }
  return { layout, params, metadata: file.metadata }
}

/** Stage files (any order) → one full-model file. The stages must share a config and tile [0, L). */
export function mergeStages (files: Uint8Array[]): Uint8Array {
  if (files.length === 0) throw new CheckpointConfigError('no stage files to merge')
  const parts = files.map(f => importStage(f)).sort((a, b) => a.layout.range.first - b.layout.range.first)
  const config = parts[0].layout.config
  let next = 0
  for (const p of parts) {
    if (!configsEqual(p.layout.config, config)) throw new CheckpointConfigError(`stage [${p.layout.range.first}, ${p.layout.range.last}) has config ${JSON.stringify(p.layout.config)}, others ${JSON.stringify(config)}`)
    if (p.layout.range.first !== next) throw new CheckpointConfigError(`stage files leave layers [${next}, ${p.layout.range.first}) uncovered or overlapping`)
    next = p.layout.range.last
  }
  if (next !== config.n_layer) throw new CheckpointConfigError(`stage files stop at layer ${next}, the model has ${config.n_layer}`)
  const full = stageLayout(config, fullRange(config))
  const params = new Float32Array(full.totalElements)
  for (const p of parts) {
    for (const v of p.layout.views) viewOf(params, full.byName.get(v.name)!).set(viewOf(p.params, v))
  }
  return exportStage(full, params)
}

/** One checkpoint → one file per range; each range must lie inside the file's own range. */
export function splitCheckpoint (bytes: Uint8Array, ranges: StageRange[]): Uint8Array[] {
  const src = importStage(bytes)
  return ranges.map(r => {
    if (r.first < src.layout.range.first || r.last > src.layout.range.last) {
      throw new CheckpointConfigError(`stage [${r.first}, ${r.last}) is not inside the checkpoint's [${src.layout.range.first}, ${src.layout.range.last})`)
    }
    const layout = stageLayout(src.layout.config, r)
    const params = new Float32Array(layout.totalElements)
    for (const v of layout.views) viewOf(params, v).set(viewOf(src.params, src.layout.byName.get(v.name)!))
    return exportStage(layout, params)
  })
}

// ---- metadata

function readConfig (metadata: Record<string, string>, expected?: GPTConfig): GPTConfig {
  if (metadata.config == null) {
    if (expected == null) throw new CheckpointConfigError('checkpoint has no config in __metadata__ and none was given')
    return validateConfig(expected)
  }
  let config: GPTConfig
  try {
    config = validateConfig(JSON.parse(metadata.config))
  } catch (e) {
    throw new CheckpointConfigError(`checkpoint config is unreadable: ${(e as Error).message}`)
  }
  if (expected != null && !configsEqual(config, expected)) throw new CheckpointConfigError(`checkpoint config ${metadata.config} differs from the expected ${JSON.stringify(expected)}`)
  return config
}

function readRange (metadata: Record<string, string>, config: GPTConfig, expected?: StageRange): StageRange {
  if (metadata.stage == null) return checkedRange(config, expected ?? fullRange(config))
  let range: StageRange
  try {
    const r = JSON.parse(metadata.stage) as Partial<StageRange>
    range = checkedRange(config, { first: r.first as number, last: r.last as number })
  } catch (e) {
    throw new CheckpointConfigError(`checkpoint stage range is unreadable: ${(e as Error).message}`)
  }
  if (expected != null && (range.first !== expected.first || range.last !== expected.last)) {
    throw new CheckpointConfigError(`checkpoint holds stage [${range.first}, ${range.last}), expected [${expected.first}, ${expected.last})`)
  }
  return range
}

function checkedRange (config: GPTConfig, range: StageRange): StageRange {
  try {
    return validateRange(config, range)
  } catch (e) {
    if (e instanceof ModelError) throw new CheckpointConfigError(e.message)
    throw e
  }
}

function list (names: string[]): string {
  const shown = names.slice(0, 5).join(', ')
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown
}
