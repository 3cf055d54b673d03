// "Train locally": this one tab trains the campaign's whole model on its own GPU, with the same
// data order, optimizer and schedule as the swarm. It is the single-tab baseline a researcher
// compares the swarm with, and a quick way to see the model learn and sample text.
import type { CampaignManifest } from '../../campaign/manifest.ts'
import { loadDataset } from '../../campaign/dataset.ts'
import { TokenLoader } from '../../train/data.ts'
import { fullRange } from '../../model/config.ts'
import { learningRate } from '../../train/schedule.ts'
import { gpu } from './gpu.svelte.ts'

export type LocalPhase = 'idle' | 'loading' | 'compiling' | 'training' | 'stopped' | 'error'

export class LocalTraining {
  phase = $state<LocalPhase>('idle')
  message = $state('')
  losses = $state.raw<Array<{ step: number, loss: number }>>([])
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
    try {
      this.phase = 'loading'
      this.message = 'Downloading the dataset'
      const data = new TokenLoader(await loadDataset(m.dataset, { onProgress: (a, b) => { this.message = `Downloading the dataset: ${Math.round(100 * a / b)}%` } }), { B: t.microbatch, T: t.seq_len, vocab: m.model.vocab })
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
      const ids = await gpu.worker.api.sample(Uint32Array.from(new TextEncoder().encode(prompt)), length, 0.8)
      this.sample = new TextDecoder().decode(Uint8Array.from(ids))
    } catch (err) {
      this.sample = `Could not sample: ${(err as Error).message}`
    } finally {
      this.sampling = false
    }
  }
}
