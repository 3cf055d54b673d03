import { describe, expect, it } from 'vitest'
import { demoManifest } from '../campaign/demo.ts'
import { splitStages } from '../model/config.ts'
import { stageLayout } from '../model/params.ts'
import { resumePlan } from './resume-plan.ts'

const m = { ...demoManifest('0'.repeat(64), 1000), stages: 2 }
const size = (stage: number): number => stageLayout(m.model, splitStages(m.model, m.stages)[stage]).totalElements
const ckpt = (stage: number, elements = size(stage)) => ({ campaign: 'c', stage, weights: { step: 7, params: new Float32Array(elements) } })

describe('resumePlan', () => {
  it('a fresh volunteer asks for nothing, or for --stage', () => {
    expect(resumePlan(m, null, null)).toEqual({ notes: [] })
    expect(resumePlan(m, 1, null)).toEqual({ previousStage: 1, notes: [] })
  })

  it('resumes the checkpoint\'s stage with its weights', () => {
    const p = resumePlan(m, null, ckpt(1))
    expect(p.previousStage).toBe(1)
    expect(p.savedWeights?.step).toBe(7)
    expect(p.notes).toEqual(['checkpoint: stage 2, step 7'])
    expect(resumePlan(m, 1, ckpt(1)).savedWeights?.step).toBe(7)
  })

  it('--stage on another stage keeps the stage asked for and leaves the weights out', () => {
    const p = resumePlan(m, 0, ckpt(1))
    expect(p).toEqual({ previousStage: 0, notes: ['the checkpoint is of stage 2: stage 1 starts from a replica\'s weights or the seed'] })
  })

  it('sets aside a checkpoint that cannot be this campaign\'s: unreadable, a stage it lacks, a wrong size', () => {
    expect(resumePlan(m, null, { error: 'its weights do not match their digest' })).toEqual({ notes: ['ignoring the saved checkpoint: its weights do not match their digest'] })
    expect(resumePlan(m, null, ckpt(2, 10)).notes[0]).toMatch(/of stage 3, the campaign has 2/)
    const wrong = resumePlan(m, null, ckpt(0, size(0) - 1))
    expect(wrong.savedWeights).toBeUndefined()
    expect(wrong.previousStage).toBeUndefined()
    expect(wrong.notes[0]).toMatch(/holds \d+ weights, stage 1 has \d+/)
  })
})
