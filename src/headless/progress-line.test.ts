import { describe, expect, it } from 'vitest'
import type { SwarmSnapshot } from '../train/swarm/swarm-tab.ts'
import { formatProgress, TokenRate } from './progress-line.ts'

const base: SwarmSnapshot = {
  phase: 'running', message: 'Training', progress: 1, stage: 0, range: null, stages: 2, appliedStep: 7, resumed: false, replicas: ['me'], next: ['n'],
  microbatches: 30, flops: 0, bytesSent: 0, bytesReceived: 0, busyFraction: 0.42, idleWaitFraction: 0, retried: 0, lastLoss: null, error: null, slots: 1, peakFlopsPerSecond: null, mfu: null
}

describe('formatProgress', () => {
  it('shows stage (1-based), step, microbatches, tokens/s and GPU busy while training', () => {
    expect(formatProgress(base, 1234.4)).toBe('stage 1/2 · step 7 · 30 microbatches · 1234 tokens/s · GPU busy 42%')
  })

  it('shows MFU once the tab knows it', () => {
    expect(formatProgress({ ...base, mfu: 0.25 }, 1234.4)).toBe('stage 1/2 · step 7 · 30 microbatches · 1234 tokens/s · GPU busy 42% · MFU 25%')
  })

  it('adds the loss on the last stage, and says when the next stage has nobody', () => {
    expect(formatProgress({ ...base, stage: 1, lastLoss: 3.21 }, 0)).toContain('loss 3.2100')
    expect(formatProgress({ ...base, next: [] }, 0)).toContain('waiting for a volunteer on stage 2')
    expect(formatProgress({ ...base, stage: 1, next: [] }, 0)).not.toContain('waiting')
  })

  it('shows setup phases with their message and progress, and errors', () => {
    expect(formatProgress({ ...base, phase: 'compiling', message: 'Compiling kernels', progress: 0.2 }, 0)).toBe('stage 1/2 · compiling: Compiling kernels (20%)')
    expect(formatProgress({ ...base, phase: 'joining', stage: null, message: 'Measuring this GPU', progress: 0 }, 0)).toBe('stage ?/2 · joining: Measuring this GPU')
    expect(formatProgress({ ...base, phase: 'error', error: 'excluded' }, 0)).toBe('stage 1/2 · error: excluded')
  })
})

describe('TokenRate', () => {
  it('measures tokens per second over windows of at least 2 s', () => {
    const r = new TokenRate(256)
    expect(r.update(0, 0)).toBe(0)
    expect(r.update(4, 1000)).toBe(0) // too soon: keeps the last rate
    expect(r.update(8, 2000)).toBe(8 * 256 / 2)
    expect(r.update(8, 6000)).toBe(0)
  })

  it('starts over when the counter goes back (a rejoin)', () => {
    const r = new TokenRate(10)
    r.update(100, 0)
    r.update(110, 2000)
    expect(r.update(0, 3000)).toBe(50)
    expect(r.update(20, 5000)).toBe(100)
  })
})
