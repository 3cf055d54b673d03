// The form's fields, in display order: one table drives the inputs, their labels and the manifest
// the form builds, so a field can't be shown without being sent (or sent without being shown).
import { demoManifest } from '../../../campaign/demo.ts'
import { PRESETS } from '../../../model/config.ts'

export type FieldKind = 'int' | 'num' | 'text' | 'textarea' | 'select'

export interface FieldSpec {
  /** Dotted manifest path, as `validateManifest` names its errors. */
  path: FieldPath
  label: string
  kind: FieldKind
  options?: readonly string[]
  hint?: string
}

export const GENERAL_FIELDS = [
  { path: 'name', label: 'Campaign name', kind: 'text' },
  { path: 'description', label: 'Description (optional)', kind: 'textarea', hint: 'What volunteers help train, and why.' }
] as const satisfies readonly FieldSpec[]

export const MODEL_FIELDS = [
  { path: 'model.n_layer', label: 'Layers (n_layer)', kind: 'int' },
  { path: 'model.d_model', label: 'Width (d_model)', kind: 'int' },
  { path: 'model.n_head', label: 'Attention heads (n_head)', kind: 'int', hint: 'Must divide d_model; head size a multiple of 4.' },
  { path: 'model.n_ctx', label: 'Context length (n_ctx)', kind: 'int' },
  { path: 'model.vocab', label: 'Vocabulary size', kind: 'int', hint: '256 for a byte-level dataset, 50257 for GPT-2 tokens.' },
  { path: 'stages', label: 'Pipeline stages', kind: 'int', hint: 'One volunteer tab (or more) per stage; at most one per layer.' }
] as const satisfies readonly FieldSpec[]

export const TRAINING_FIELDS = [
  { path: 'training.microbatch', label: 'Microbatch rows (B)', kind: 'int' },
  { path: 'training.accumulation', label: 'Microbatches per step', kind: 'int', hint: 'Gradient accumulation.' },
  { path: 'training.seq_len', label: 'Sequence length (T)', kind: 'int', hint: 'At most n_ctx.' },
  { path: 'training.lr', label: 'Learning rate', kind: 'num' },
  { path: 'training.lr_schedule', label: 'Learning-rate schedule', kind: 'select', options: ['constant', 'cosine'] },
  { path: 'training.warmup_steps', label: 'Warmup steps', kind: 'int' },
  { path: 'training.steps', label: 'Optimizer steps', kind: 'int' },
  { path: 'training.weight_decay', label: 'Weight decay', kind: 'num' },
  { path: 'training.grad_clip', label: 'Gradient clip (global norm)', kind: 'num', hint: '0 disables clipping.' },
  { path: 'training.sync_every', label: 'Sync replicas every (steps)', kind: 'int' },
  { path: 'training.seed', label: 'Seed', kind: 'int' },
  { path: 'spot_check_rate', label: 'Spot-check rate', kind: 'num', hint: 'Fraction of microbatches run twice to verify (0 to 1).' },
  { path: 'codec.name', label: 'Boundary codec', kind: 'select', options: ['fp32', 'q8'], hint: 'How activations and gradients travel between stages: fp32 as computed, or q8 (8-bit per token, about 4× fewer bytes).' }
] as const satisfies readonly FieldSpec[]

export const DATASET_NAME_FIELD = { path: 'dataset.name', label: 'Dataset name', kind: 'text' } as const satisfies FieldSpec

export type FieldPath =
  | 'name' | 'description' | 'stages' | 'spot_check_rate' | 'dataset.name' | 'codec.name'
  | `model.${'vocab' | 'd_model' | 'n_layer' | 'n_head' | 'n_ctx'}`
  | `training.${'microbatch' | 'accumulation' | 'seq_len' | 'lr' | 'lr_schedule' | 'warmup_steps' | 'steps' | 'weight_decay' | 'grad_clip' | 'sync_every' | 'seed'}`

export const ALL_FIELDS: readonly FieldSpec[] = [...GENERAL_FIELDS, ...MODEL_FIELDS, DATASET_NAME_FIELD, ...TRAINING_FIELDS]

/** Starting values: the tiny preset and the demo campaign's hyper-parameters, which are known to train. */
export function initialValues (): Record<FieldPath, string> {
  const demo = demoManifest('', 0)
  const t = demo.training
  const m = PRESETS.tiny
  return {
    name: '',
    description: '',
    'model.vocab': String(m.vocab),
    'model.d_model': String(m.d_model),
    'model.n_layer': String(m.n_layer),
    'model.n_head': String(m.n_head),
    'model.n_ctx': String(m.n_ctx),
    stages: String(demo.stages),
    'dataset.name': '',
    'training.microbatch': String(t.microbatch),
    'training.accumulation': String(t.accumulation),
    'training.seq_len': String(t.seq_len),
    'training.lr': String(t.lr),
    'training.lr_schedule': t.lr_schedule,
    'training.warmup_steps': String(t.warmup_steps),
    'training.steps': String(t.steps),
    'training.weight_decay': String(t.weight_decay),
    'training.grad_clip': String(t.grad_clip),
    'training.sync_every': String(t.sync_every),
    'training.seed': String(t.seed),
    spot_check_rate: String(demo.spot_check_rate),
    'codec.name': 'fp32'
  }
}

/** '' stays null (the validator says "must be a number"); anything else goes through Number(). */
export function parseNumber (raw: string): number | null {
  return raw.trim() === '' ? null : Number(raw.trim())
}
