import { afterEach, describe, expect, it, vi } from 'vitest'
import type { SwarmSnapshot } from '../train/swarm/swarm-tab.ts'
import { ProgressDisplay } from './progress-display.ts'

const running: SwarmSnapshot = {
  phase: 'running', message: 'Training', progress: 1, stage: 1, range: null, stages: 2, appliedStep: 3, resumed: false, replicas: ['me'], next: [],
  microbatches: 6, flops: 0, bytesSent: 0, bytesReceived: 0, busyFraction: 0.5, idleWaitFraction: 0, retried: 0, lastLoss: 4.5, error: null, slots: 1, peakFlopsPerSecond: null, mfu: null
}

function sink (tty: boolean): { out: { write: (s: string) => boolean, isTTY: boolean, columns: number }, text: () => string } {
  let text = ''
  return { out: { write: s => { text += s; return true }, isTTY: tty, columns: 60 }, text: () => text }
}

afterEach(() => { vi.useRealTimers() })

describe('ProgressDisplay', () => {
  it('on a TTY redraws one line in place, log lines scroll above it, and it is cut to the width', () => {
    vi.useFakeTimers()
    const { out, text } = sink(true)
    const d = new ProgressDisplay(out, { tokensPerMicrobatch: 256 })
    d.update(running)
    vi.advanceTimersByTime(500)
    expect(text()).toBe('stage 2/2 · step 3 · 6 microbatches · 0 tokens/s · GPU bus…')
    d.log('checkpoint saved')
    expect(text().endsWith('\r\x1b[2Kcheckpoint saved\nstage 2/2 · step 3 · 6 microbatches · 0 tokens/s · GPU bus…')).toBe(true)
    d.close()
    expect(text().endsWith('\r\x1b[2Kstage 2/2 · step 3 · 6 microbatches · 0 tokens/s · GPU bus…\n')).toBe(true)
  })

  it('elsewhere prints timestamped lines, the progress line every 5 s while training only', () => {
    vi.useFakeTimers()
    const { out, text } = sink(false)
    const d = new ProgressDisplay(out, { tokensPerMicrobatch: 256 })
    d.update({ ...running, phase: 'compiling', message: 'Compiling' })
    vi.advanceTimersByTime(5000)
    expect(text()).toBe('')
    d.update(running)
    vi.advanceTimersByTime(5000)
    d.log('left the campaign')
    const lines = text().trim().split('\n')
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z stage 2\/2 · step 3 · 6 microbatches · \d+ tokens\/s · GPU busy 50% · loss 4\.5000$/)
    expect(lines[1]).toMatch(/Z left the campaign$/)
    d.close()
  })
})
