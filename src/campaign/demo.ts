// The built-in demo campaign: a tiny byte-level GPT on the SOTU excerpt in public/datasets.
import type { CampaignManifest } from './manifest.ts'

export const DEMO_DATASET_PATH = '/datasets/sotu-excerpt.txt'

/** The demo manifest for a dataset of `bytes` bytes with digest `sha256` (computed by the tracker at start). */
export function demoManifest (sha256: string, bytes: number): CampaignManifest {
  return {
    version: 1,
    name: 'Demo: State of the Union (byte-level GPT)',
    description: 'A small GPT trained byte by byte on early U.S. State of the Union addresses (public domain). Two pipeline stages: open the link in two or more tabs.',
    model: { vocab: 256, d_model: 64, n_layer: 2, n_head: 2, n_ctx: 64 },
    stages: 2,
    dataset: { name: 'State of the Union addresses 1790–1817 (excerpt)', url: DEMO_DATASET_PATH, sha256, bytes, format: 'bytes' },
    training: {
      microbatch: 4,
      accumulation: 2,
      seq_len: 64,
      lr: 3e-3,
      lr_schedule: 'constant',
      warmup_steps: 0,
      steps: 10000,
      weight_decay: 0.0,
      grad_clip: 1.0,
      sync_every: 4,
      seed: 1337
    },
    spot_check_rate: 0.05
  }
}
