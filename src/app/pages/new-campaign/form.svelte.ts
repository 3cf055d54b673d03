// The new-campaign form's state: raw field text in, the manifest the tracker will receive out,
// validated on every keystroke by the same `validateManifest` the tracker runs.
import { validateManifest, type DatasetSection, type FieldError } from '../../../campaign/manifest.ts'
import { PRESETS, presetTokenizer, splitStages, stageParamCount, type GPTConfig, type PresetName, type StageParamCount, type StageRange } from '../../../model/config.ts'
import { flopsPerToken, stageMemory, suggestStages, type StageMemory } from '../../../model/memory.ts'
import type { TokenizerName } from '../../../tokenizer/tokenizer.ts'
import { api, ApiError } from '../../api.ts'
import { boundaryBytes, type BoundaryBytes } from '../../../codec/summary.ts'
import { CODEC_NAMES, type CodecName } from '../../../codec/codec.ts'
import { ALL_FIELDS, initialValues, parseNumber, type FieldPath } from './fields.ts'
import { MAX_UPLOAD_BYTES, sha256Hex, uploadDataset, waitForJob, type DatasetJobView, type UploadedDataset } from './upload.ts'

/** builtin: the demo campaign's byte-level excerpt; builtin-gpt2: the whole SOTU corpus in GPT-2 tokens. */
export type DatasetSource = 'builtin' | 'builtin-gpt2' | 'upload'

export type UploadState =
  | { status: 'idle' }
  | { status: 'hashing' | 'uploading', file: string, size: number, loaded: number, localSha256: string | null }
  | { status: 'tokenizing', file: string, size: number, localSha256: string, job: DatasetJobView }
  | { status: 'done', file: string, size: number, localSha256: string, result: UploadedDataset }
  | { status: 'error', file: string, message: string }

export interface StageInfo {
  index: number
  range: StageRange
  params: StageParamCount
  /** null while B or T is invalid */
  memory: StageMemory | null
}

export class NewCampaignForm {
  values = $state<Record<FieldPath, string>>(initialValues())
  /** Fields the user has edited; their errors show inline. `showAll` shows every field's. */
  touched = $state<Partial<Record<string, true>>>({})
  showAll = $state(false)

  source = $state<DatasetSource>('builtin')
  builtin = $state.raw<DatasetSection | null>(null)
  builtinError = $state<string | null>(null)
  upload = $state.raw<UploadState>({ status: 'idle' })
  /** the tokenizer an uploaded text file is tokenized with on the tracker */
  uploadTokenizer = $state<TokenizerName>('bytes')
  /** the GPT-2 corpus: null until the tracker answers; its job shows tokenization progress on first use */
  gpt2Corpus = $state.raw<{ name: string, job: DatasetJobView } | null>(null)
  gpt2CorpusError = $state<string | null>(null)

  serverErrors = $state.raw<FieldError[]>([])
  submitting = $state(false)
  submitError = $state<string | null>(null)
  created = $state.raw<{ id: string, link: string } | null>(null)

  #uploadAbort: AbortController | null = null

  /** The dataset the manifest will name (its `name` comes from the editable field). */
  dataset = $derived.by((): Omit<DatasetSection, 'name'> | null => {
    if (this.source === 'builtin') return this.builtin
    if (this.source === 'builtin-gpt2') return this.gpt2Corpus?.job.dataset ?? null
    return this.upload.status === 'done' ? this.upload.result : null
  })

  input = $derived.by(() => {
    const v = this.values
    const n = (p: FieldPath): number | null => parseNumber(v[p])
    return {
      version: 1,
      name: v.name,
      description: v.description,
      model: { vocab: n('model.vocab'), d_model: n('model.d_model'), n_layer: n('model.n_layer'), n_head: n('model.n_head'), n_ctx: n('model.n_ctx') },
      stages: n('stages'),
      ...(this.dataset == null ? {} : { dataset: { ...this.dataset, name: v['dataset.name'] } }),
      training: {
        microbatch: n('training.microbatch'),
        accumulation: n('training.accumulation'),
        seq_len: n('training.seq_len'),
        lr: n('training.lr'),
        lr_schedule: v['training.lr_schedule'],
        warmup_steps: n('training.warmup_steps'),
        steps: n('training.steps'),
        weight_decay: n('training.weight_decay'),
        grad_clip: n('training.grad_clip'),
        sync_every: n('training.sync_every'),
        seed: n('training.seed')
      },
      spot_check_rate: n('spot_check_rate'),
      codec: { name: v['codec.name'] }
    }
  })

  validation = $derived(validateManifest(this.input))
  clientErrors = $derived(this.validation.ok ? [] : this.validation.errors)
  /** Every current error: the validator's, then the tracker's last answer for fields not edited since. */
  errors = $derived([...this.clientErrors, ...this.serverErrors])
  canSubmit = $derived(this.validation.ok && !this.submitting)

  /** The preset the model fields match, or 'custom'. */
  preset = $derived.by((): PresetName | 'custom' => {
    const v = this.values
    for (const [name, p] of Object.entries(PRESETS) as Array<[PresetName, GPTConfig]>) {
      if ((Object.keys(p) as Array<keyof GPTConfig>).every(k => parseNumber(v[`model.${k}`]) === p[k])) return name
    }
    return 'custom'
  })

  /** The model config, once its fields (and the stage count) pass validation. */
  config = $derived.by((): GPTConfig | null => {
    if (this.clientErrors.some(e => e.path.startsWith('model.') || e.path === 'stages')) return null
    const m = this.input.model
    return { vocab: m.vocab!, d_model: m.d_model!, n_layer: m.n_layer!, n_head: m.n_head!, n_ctx: m.n_ctx! }
  })

  stages = $derived.by((): StageInfo[] | null => {
    const c = this.config
    if (c == null) return null
    const { microbatch: B, seq_len: T } = this.input.training
    const batchOk = !this.clientErrors.some(e => e.path === 'training.microbatch' || e.path === 'training.seq_len')
    return splitStages(c, this.input.stages!).map((range, index) => ({
      index,
      range,
      params: stageParamCount(c, range),
      memory: batchOk ? stageMemory(c, range, B!, T!) : null
    }))
  })

  /** Bytes each stage boundary carries per token with the chosen codec (null while the sizes are invalid). */
  wire = $derived.by((): BoundaryBytes | null => {
    const codec = this.values['codec.name']
    const [B, T, C] = [this.input.training.microbatch, this.input.training.seq_len, this.input.model.d_model]
    if (!(CODEC_NAMES as readonly string[]).includes(codec) || [B, T, C].some(x => x == null || !Number.isInteger(x) || x < 1)) return null
    return boundaryBytes(codec as CodecName, B!, T!, C!)
  })

  totalParams = $derived(this.stages?.reduce((sum, s) => sum + s.params.total, 0) ?? null)

  /** Training FLOPs per token (forward + backward) at the chosen sequence length. */
  flopsPerToken = $derived.by((): number | null => {
    const T = this.input.training.seq_len
    if (this.config == null || T == null || this.clientErrors.some(e => e.path === 'training.seq_len')) return null
    return flopsPerToken(this.config, T)
  })

  /** The fewest stages whose largest fits a 4 GiB tab, at the chosen microbatch. */
  suggestion = $derived.by(() => {
    const { microbatch: B, seq_len: T } = this.input.training
    if (this.config == null || B == null || T == null || this.clientErrors.some(e => e.path === 'training.microbatch' || e.path === 'training.seq_len')) return null
    return suggestStages(this.config, B, T)
  })

  // ---- reading errors

  errorsFor (path: string): string[] {
    return this.errors.filter(e => e.path === path).map(e => e.message)
  }

  /** The errors to show next to a field now: after it was edited, or after a submit attempt. */
  visibleErrors (path: string): string[] {
    const server = this.serverErrors.filter(e => e.path === path).map(e => e.message)
    if (!this.showAll && this.touched[path] == null) return server
    return this.errorsFor(path)
  }

  labelOf (path: string): string {
    return ALL_FIELDS.find(f => f.path === path)?.label ?? (path === 'dataset' || path.startsWith('dataset.') ? 'Dataset' : path || 'Manifest')
  }

  // ---- editing

  set (path: FieldPath, raw: string): void {
    this.values[path] = raw
    this.touched[path] = true
    // The tracker's verdict on this field is stale once it changes.
    if (this.serverErrors.some(e => e.path === path)) this.serverErrors = this.serverErrors.filter(e => e.path !== path)
  }

  applyPreset (name: PresetName): void {
    const p = PRESETS[name]
    for (const k of Object.keys(p) as Array<keyof GPTConfig>) this.set(`model.${k}`, String(p[k]))
    // Keep the rest of the form consistent with the new shape where that is unambiguous.
    const stages = parseNumber(this.values.stages)
    if (stages != null && stages > p.n_layer) this.set('stages', String(p.n_layer))
    const T = parseNumber(this.values['training.seq_len'])
    if (T != null && T > p.n_ctx) this.set('training.seq_len', String(p.n_ctx))
    // A GPT-2 vocabulary wants GPT-2 tokens, a byte vocabulary bytes.
    const tok = presetTokenizer(name)
    this.uploadTokenizer = tok
    if (this.source !== 'upload') this.chooseSource(tok === 'gpt2' ? 'builtin-gpt2' : 'builtin')
  }

  // ---- dataset

  async loadBuiltin (): Promise<void> {
    try {
      const summary = (await api.campaigns()).find(c => c.builtin)
      if (summary == null) throw new Error('this tracker has no built-in campaign')
      this.builtin = (await api.campaign(summary.id)).manifest.dataset
      if (this.source === 'builtin' && this.values['dataset.name'] === '') this.values['dataset.name'] = this.builtin.name
    } catch (err) {
      this.builtinError = (err as Error).message
    }
  }

  chooseSource (source: DatasetSource): void {
    this.source = source
    if (source === 'builtin-gpt2' && this.gpt2Corpus == null) void this.loadGpt2Corpus()
    const name = source === 'builtin' ? this.builtin?.name : source === 'builtin-gpt2' ? this.gpt2Corpus?.name : this.upload.status === 'done' ? this.upload.file : undefined
    if (name != null) this.values['dataset.name'] = name
  }

  /** Asks the tracker for its GPT-2 corpus (tokenized on first use) and follows the job to the end. */
  async loadGpt2Corpus (): Promise<void> {
    this.gpt2CorpusError = null
    try {
      const res = await fetch('/api/datasets/builtin')
      if (!res.ok) throw new Error(`the tracker answered HTTP ${res.status}`)
      const { corpora } = await res.json() as { corpora: Array<{ name: string, job: DatasetJobView }> }
      const c = corpora[0]
      if (c == null) throw new Error('this tracker ships no GPT-2 corpus')
      await waitForJob(c.job, job => { this.gpt2Corpus = { name: c.name, job } })
      if (this.source === 'builtin-gpt2') this.values['dataset.name'] = c.name
    } catch (err) {
      this.gpt2CorpusError = (err as Error).message
    }
  }

  async uploadFile (file: File): Promise<void> {
    this.#uploadAbort?.abort()
    const abort = this.#uploadAbort = new AbortController()
    const base = { file: file.name, size: file.size, loaded: 0, localSha256: null }
    if (file.size === 0) { this.upload = { status: 'error', file: file.name, message: 'the file is empty' }; return }
    if (file.size > MAX_UPLOAD_BYTES) {
      this.upload = { status: 'error', file: file.name, message: `the file is ${mib(file.size)}; the tracker accepts at most ${mib(MAX_UPLOAD_BYTES)}` }
      return
    }
    try {
      this.upload = { status: 'hashing', ...base }
      const localSha256 = await sha256Hex(file)
      if (abort.signal.aborted) return
      this.upload = { status: 'uploading', ...base, localSha256 }
      const answer = await uploadDataset(file, loaded => {
        if (!abort.signal.aborted) this.upload = { status: 'uploading', ...base, loaded, localSha256 }
      }, { signal: abort.signal, tokenizer: this.uploadTokenizer })
      const stored = 'job' in answer ? answer.text : answer
      if (stored.sha256 !== localSha256) throw new Error(`the tracker stored a file with sha256 ${stored.sha256}, not the ${localSha256} computed here: the bytes changed on the way`)
      const result = 'job' in answer
        ? await waitForJob(answer.job, job => { if (!abort.signal.aborted) this.upload = { status: 'tokenizing', file: file.name, size: file.size, localSha256, job } }, { signal: abort.signal })
        : answer
      if (abort.signal.aborted) return
      this.upload = { status: 'done', file: file.name, size: file.size, localSha256, result }
      this.values['dataset.name'] = file.name
    } catch (err) {
      if (!abort.signal.aborted) this.upload = { status: 'error', file: file.name, message: (err as Error).message }
    }
  }

  // ---- submit

  async submit (): Promise<void> {
    if (!this.validation.ok || this.submitting) { this.showAll = true; return }
    this.submitting = true
    this.submitError = null
    try {
      this.created = await api.createCampaign(this.validation.manifest)
    } catch (err) {
      const fields = err instanceof ApiError ? (err.body as { fields?: FieldError[] } | null)?.fields : undefined
      this.serverErrors = Array.isArray(fields) ? fields : []
      this.submitError = (err as Error).message
      this.showAll = true
    } finally {
      this.submitting = false
    }
  }
}

export function mib (bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(2)} GiB` : bytes >= 1024 ** 2 ? `${(bytes / 1024 ** 2).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`
}
