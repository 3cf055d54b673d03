// Hugging Face GPT-2 checkpoints in and out. In: a safetensors file as `transformers` writes it
// for GPT2LMHeadModel (`transformer.h.0.attn.c_attn.weight`, …) or GPT2Model (`h.0.…`, no prefix),
// checked against a config with every mismatch listed; `lm_head.weight` absent means tied to
// `wte` (GPT-2's own files), and is copied into our untied head; the causal-mask buffers
// `attn.bias` / `attn.masked_bias` that older files carry are skipped. Out: our full or stage
// checkpoint plus the `config.json` that makes `GPT2LMHeadModel.from_pretrained(dir)` load it
// (untied, `tie_word_embeddings: false`).
import { fullRange, type GPTConfig, type StageRange } from './config.ts'
import { stageLayout, viewOf, type StageLayout } from './params.ts'
import { decodeSafetensors, readSafetensorsHeader } from './safetensors.ts'
import { exportStage } from './checkpoint.ts'
import { ModelError } from './errors.ts'

/** A checkpoint that does not fit the config; `problems` lists every mismatch found. */
export class CheckpointMismatchError extends ModelError {
  override name = 'CheckpointMismatchError'
  readonly problems: string[]

  constructor (problems: string[]) {
    super(`${problems.length} problem${problems.length > 1 ? 's' : ''}: ${problems.join('; ')}`)
    this.problems = problems
  }
}

export interface HfImport {
  /** full-model params in our flat layout */
  layout: StageLayout
  params: Float32Array
  /** lm_head came from wte (the file ties them) */
  tiedHead: boolean
  /** file tensors that are buffers, not parameters (skipped) */
  skipped: string[]
}

const BUFFER_RE = /(^|\.)h\.\d+\.attn\.(bias|masked_bias)$/

/** Our name for a file tensor name: adds the `transformer.` prefix GPT2Model files leave out. */
function canonical (name: string): string {
  return name === 'lm_head.weight' || name.startsWith('transformer.') ? name : `transformer.${name}`
}

export function importHfCheckpoint (bytes: Uint8Array, config: GPTConfig): HfImport {
  const layout = stageLayout(config, fullRange(config))
  let header
  try {
    header = readSafetensorsHeader(bytes)
  } catch (e) {
    throw new CheckpointMismatchError([`not a safetensors file: ${(e as Error).message}`])
  }
  const problems: string[] = []
  const skipped: string[] = []
  const byName = new Map<string, { file: string, dtype: string, shape: number[] }>()
  for (const e of header.entries) {
    if (BUFFER_RE.test(e.name)) { skipped.push(e.name); continue }
    const name = canonical(e.name)
    if (byName.has(name)) { problems.push(`"${e.name}" and "${byName.get(name)!.file}" are the same tensor`); continue }
    byName.set(name, { file: e.name, dtype: e.dtype, shape: e.shape })
    if (!layout.byName.has(name)) problems.push(`unexpected tensor "${e.name}" (not in a ${config.n_layer}-layer GPT-2)`)
  }
  const tiedHead = !byName.has('lm_head.weight') && byName.has('transformer.wte.weight')
  for (const v of layout.views) {
    const t = byName.get(v.name) ?? (tiedHead && v.name === 'lm_head.weight' ? byName.get('transformer.wte.weight') : undefined)
    if (t == null) { problems.push(`missing tensor "${v.name}" [${v.shape.join(', ')}]`); continue }
    if (t.dtype !== 'F32') problems.push(`"${t.file}" is ${t.dtype}, expected F32`)
    if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) problems.push(`"${t.file}" has shape [${t.shape.join(', ')}], the config needs [${v.shape.join(', ')}]`)
  }
  if (problems.length > 0) throw new CheckpointMismatchError(problems)

  const file = decodeSafetensors(bytes)
  const params = new Float32Array(layout.totalElements)
  for (const v of layout.views) {
    const src = v.name === 'lm_head.weight' && tiedHead ? 'transformer.wte.weight' : v.name
    viewOf(params, v).set(file.tensors.get(byName.get(src)!.file)!.data)
  }
  return { layout, params, tiedHead, skipped }
}

/** A stage's (or, with the full range, the whole model's) tensors from full-model params, as a safetensors file. */
export function exportRange (full: HfImport | { layout: StageLayout, params: Float32Array }, range: StageRange = fullRange(full.layout.config)): Uint8Array {
  const layout = stageLayout(full.layout.config, range)
  const params = new Float32Array(layout.totalElements)
  for (const v of layout.views) viewOf(params, v).set(viewOf(full.params, full.layout.byName.get(v.name)!))
  return exportStage(layout, params)
}

/** `config.json` for GPT2LMHeadModel: our shapes, GPT-2's maths (tanh GELU, LayerNorm eps 1e-5), untied head. */
export function hfConfigJson (config: GPTConfig): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: config.vocab,
    n_embd: config.d_model,
    n_layer: config.n_layer,
    n_head: config.n_head,
    n_positions: config.n_ctx,
    n_ctx: config.n_ctx,
    n_inner: null,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    tie_word_embeddings: false,
    bos_token_id: 50256,
    eos_token_id: 50256,
    torch_dtype: 'float32'
  }
}
