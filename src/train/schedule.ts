// Learning-rate schedule: linear warmup, then constant or cosine decay (llm.c `get_learning_rate`).
import { TrainConfigError } from './errors.ts'

export interface LrSchedule {
  /** peak learning rate */
  lr: number
  /** @default 'constant' */
  schedule?: 'constant' | 'cosine'
  /** steps of linear warmup from lr/warmup to lr. @default 0 */
  warmupSteps?: number
  /** optimizer steps of the run; cosine reaches its floor here */
  totalSteps: number
  /** cosine floor as a fraction of lr (nanoGPT's min_lr = lr/10). @default 0.1 */
  minLrFraction?: number
}

export function validateSchedule (s: LrSchedule): Required<LrSchedule> {
  const out = { schedule: 'constant' as const, warmupSteps: 0, minLrFraction: 0.1, ...s }
  if (!(out.lr >= 0) || !Number.isFinite(out.lr)) throw new TrainConfigError(`lr must be a finite number ≥ 0, got ${out.lr}`)
  if (!Number.isInteger(out.totalSteps) || out.totalSteps < 1) throw new TrainConfigError(`totalSteps must be a positive integer, got ${out.totalSteps}`)
  if (!Number.isInteger(out.warmupSteps) || out.warmupSteps < 0 || out.warmupSteps > out.totalSteps) throw new TrainConfigError(`warmupSteps must be an integer in [0, totalSteps], got ${out.warmupSteps}`)
  if (!(out.minLrFraction >= 0 && out.minLrFraction <= 1)) throw new TrainConfigError(`minLrFraction must be in [0, 1], got ${out.minLrFraction}`)
  if (out.schedule !== 'constant' && out.schedule !== 'cosine') throw new TrainConfigError(`schedule must be constant or cosine, got ${String(out.schedule)}`)
  return out
}

/** Learning rate of optimizer step `step` (0-based). Past totalSteps it stays at the final value. */
export function learningRate (step: number, schedule: LrSchedule): number {
  const s = validateSchedule(schedule)
  if (step < s.warmupSteps) return s.lr * (step + 1) / s.warmupSteps
  if (s.schedule === 'constant') return s.lr
  const span = s.totalSteps - s.warmupSteps
  const ratio = span <= 1 ? 1 : Math.min(1, (step - s.warmupSteps) / (span - 1))
  const minLr = s.lr * s.minLrFraction
  return minLr + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (s.lr - minLr)
}
