// Where a restarted volunteer picks up: the stage it asks the tracker for and the weights it may
// start from, from `--stage` and its checkpoint. A checkpoint that cannot belong to this campaign's
// stage (a stage it does not have, a different size) is set aside with a note, never loaded.
import type { CampaignManifest } from '../campaign/manifest.ts'
import { splitStages } from '../model/config.ts'
import { stageLayout } from '../model/params.ts'
import type { Weights } from '../net/weights.ts'
import type { StageCheckpoint } from './stage-checkpoint-file.ts'

export interface ResumePlan {
  /** 0-based stage to ask for (SwarmTab's previousStage), if any. */
  previousStage?: number
  /** The checkpoint's weights, when they are of `previousStage`. */
  savedWeights?: Weights
  /** What the volunteer should say about it. */
  notes: string[]
}

export function resumePlan (manifest: CampaignManifest, askedStage: number | null, saved: StageCheckpoint | null | { error: string }): ResumePlan {
  const notes: string[] = []
  let checkpoint: StageCheckpoint | null = null
  if (saved != null && 'error' in saved) notes.push(`ignoring the saved checkpoint: ${saved.error}`)
  else if (saved != null && saved.stage >= manifest.stages) notes.push(`ignoring the saved checkpoint: it is of stage ${saved.stage + 1}, the campaign has ${manifest.stages}`)
  else if (saved != null) {
    const expect = stageLayout(manifest.model, splitStages(manifest.model, manifest.stages)[saved.stage]).totalElements
    if (saved.weights.params.length !== expect) notes.push(`ignoring the saved checkpoint: it holds ${saved.weights.params.length} weights, stage ${saved.stage + 1} has ${expect}`)
    else checkpoint = saved
  }
  const previousStage = askedStage ?? checkpoint?.stage
  if (checkpoint == null || previousStage == null) return { ...(previousStage != null ? { previousStage } : {}), notes }
  if (checkpoint.stage !== previousStage) {
    notes.push(`the checkpoint is of stage ${checkpoint.stage + 1}: stage ${previousStage + 1} starts from a replica's weights or the seed`)
    return { previousStage, notes }
  }
  notes.push(`checkpoint: stage ${previousStage + 1}, step ${checkpoint.weights.step}`)
  return { previousStage, savedWeights: checkpoint.weights, notes }
}
