// "Train locally": this one tab trains the campaign's whole model on its own GPU, with the same
// data order, optimizer and schedule as the swarm. It is the single-tab baseline a researcher
// compares the swarm with, and a quick way to see the model learn and sample text. With a held-out
// split it also scores fixed validation windows (forward only) every 10 steps, as the CLI does
// every tenth of its run, and trains on the rest only.
import type { CampaignManifest } from '../../campaign/manifest.ts'
import { datasetSplits, loadDataset } from '../../campaign/dataset.ts'
import { TokenLoader } from '../../train/data.ts'
import { evaluatesAfter, ValidationSet } from '../../train/evaluate.ts'
import { loadTokenizer } from '../../tokenizer/tokenizer.ts'
import { fullRange } from '../../model/config.ts'
import { learningRate } from '../../train/schedule.ts'
import { gpu } from './gpu.svelte.ts'

export type LocalPhase = 'idle' | 'loading' | 'compiling' | 'training' | 'stopped' | 'error'

export class LocalTraining {
  phase = $state<LocalPhase>('idle')
  message = $state('')
  losses = $state.raw<Array<{ step: number, loss: number }>>([])
  /** Validation loss after the steps that evaluate (empty without a held-out split). */
  valLosses = $state.raw<Array<{ step: number, loss: number }>>([])
  tokensPerSecond = $state(0)
  sample = $state<string | null>(null)
  sampling = $state(false)
  readonly #m: CampaignManifest
  #stop = false

  constructor (manifest: CampaignManifest) {
    this.#m = manifest
  }

  get running (): boolean { return this.phase === 'loading' || this.phase === 'compiling' || this.phase === 'training' }

  async start (): Promise<void> {
    const m = this.#m
    const t = m.training
    this.#stop = false
    this.losses = []
    this.valLosses = []
    try {
      this.phase = 'loading'
      this.message = 'Downloading the dataset'
      const splits = datasetSplits(await loadDataset(m.dataset, { onProgress: (a, b) => { this.message = `Downloading the dataset: ${Math.round(100 * a / b)}%` } }), m.dataset)
      const data = new TokenLoader(splits.train, { B: t.microbatch, T: t.seq_len, vocab: m.model.vocab })
      const val = splits.validation != null ? new ValidationSet(splits.validation, { B: t.microbatch, T: t.seq_len }) : null
      this.phase = 'compiling'
      this.message = 'Compiling kernels for the whole model'
      const api = gpu.worker.api
      await api.initStage({ config: m.model, range: fullRange(m.model), B: t.microbatch, T: t.seq_len, seed: t.seed })
      this.phase = 'training'
      const started = performance.now()
      for (let step = 0; step < t.steps && !this.#stop; step++) {
        let sum = 0
        for (let a = 0; a < t.accumulation; a++) {
          const { inputs, targets } = data.microbatch(step * t.accumulation + a)
          const { loss } = await api.forward(inputs, targets)
          await api.backward()
          sum += loss ?? NaN
        }
        await api.step({ lr: learningRate(step, { lr: t.lr, schedule: t.lr_schedule, warmupSteps: Math.min(t.warmup_steps, t.steps), totalSteps: t.steps }), weightDecay: t.weight_decay, gradClip: t.grad_clip, gradScale: 1 / t.accumulation })
        await api.zeroGrad()
        this.losses = [...this.losses, { step, loss: sum / t.accumulation }]
        if (val != null && evaluatesAfter(step + 1, t.steps)) {
          // Forward only with targets: the loss, no gradient (the next forward overwrites its buffers).
          let v = 0
          for (let k = 0; k < val.batches; k++) {
            const { inputs, targets } = val.microbatch(k)
            v += (await api.forward(inputs, targets)).loss ?? NaN
          }
          this.valLosses = [...this.valLosses, { step, loss: v / val.batches }]
        }
        this.tokensPerSecond = ((step + 1) * t.accumulation * t.microbatch * t.seq_len) / ((performance.now() - started) / 1000)
        this.message = `Step ${step + 1} of ${t.steps}`
      }
      this.phase = 'stopped'
      this.message = `Stopped after ${this.losses.length} steps`
    } catch (err) {
      this.phase = 'error'
      this.message = (err as Error).message
    }
  }

  stop (): void { this.#stop = true }

  /** Samples text from the locally trained model, starting from `prompt`. */
  async generate (prompt = 'The ', length = 200): Promise<void> {
    this.sampling = true
    try {
      // The campaign's own tokenizer (bytes or GPT-2 BPE), as the tracker and the CLI use it.
      const tokenizer = await loadTokenizer(this.#m.dataset.tokenizer ?? 'bytes')
      const ids = await gpu.worker.api.sample(tokenizer.encode(prompt), length, 0.8)
      this.sample = tokenizer.decode(ids)
    } catch (err) {
      this.sample = `Could not sample: ${(err as Error).message}`
    } finally {
      this.sampling = false
    }
  }
}
