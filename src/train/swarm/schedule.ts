// Learning rate at an optimizer step: linear warmup, then constant or cosine decay to 10%.
import type { TrainingSection } from '../../campaign/manifest.ts'

export function learningRate (t: Pick<TrainingSection, 'lr' | 'lr_schedule' | 'warmup_steps' | 'steps'>, step: number): number {
  if (step < t.warmup_steps) return t.lr * (step + 1) / t.warmup_steps
  if (t.lr_schedule === 'constant') return t.lr
  const span = Math.max(1, t.steps - t.warmup_steps)
  const progress = Math.min(1, (step - t.warmup_steps) / span)
  return t.lr * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)))
}
