// The volunteer's one-line progress from a SwarmSnapshot: stage, step, microbatches, tokens/s,
// GPU busy, MFU, loss. On a TTY the line is redrawn in place; elsewhere it is printed every few seconds.
import { formatMfu } from '../gpu/mfu.ts'
import type { SwarmSnapshot } from '../train/swarm/swarm-tab.ts'

/** Tokens per second from the microbatch counter between two snapshots. */
export class TokenRate {
  #last: { at: number, microbatches: number } | null = null
  #rate = 0

  constructor (readonly tokensPerMicrobatch: number) {}

  /** Feeds the counter at time `at` (ms); returns the latest rate (smoothed over ≥ 2 s windows). */
  update (microbatches: number, at: number): number {
    if (this.#last == null || microbatches < this.#last.microbatches) { this.#last = { at, microbatches }; return this.#rate }
    const dt = (at - this.#last.at) / 1000
    if (dt >= 2) {
      this.#rate = (microbatches - this.#last.microbatches) * this.tokensPerMicrobatch / dt
      this.#last = { at, microbatches }
    }
    return this.#rate
  }
}

const pct = (f: number): string => `${(100 * f).toFixed(0)}%`

/** One line, no newline. Stages are shown 1-based, as on the campaign page. */
export function formatProgress (s: SwarmSnapshot, tokensPerSecond: number): string {
  const stage = s.stage != null ? `stage ${s.stage + 1}/${s.stages}` : `stage ?/${s.stages}`
  if (s.phase === 'running' || s.phase === 'paused') {
    const parts = [
      stage,
      `step ${s.appliedStep}`,
      `${s.microbatches} microbatches`,
      `${tokensPerSecond.toFixed(0)} tokens/s`,
      `GPU busy ${pct(s.busyFraction)}`,
      ...(s.mfu != null ? [`MFU ${formatMfu(s.mfu)}`] : []),
      ...(s.lastLoss != null ? [`loss ${s.lastLoss.toFixed(4)}`] : []),
      // No volunteer on the next stage: this stage's work waits (the pipeline is stalled).
      ...(s.stage != null && s.stage + 1 < s.stages && s.next.length === 0 ? [`waiting for a volunteer on stage ${s.stage + 2}`] : [])
    ]
    const line = parts.join(' · ')
    return s.phase === 'paused' ? `${line} · paused` : line
  }
  if (s.phase === 'error') return `${stage} · error: ${s.error ?? s.message}`
  const p = s.progress > 0 && s.progress < 1 ? ` (${pct(s.progress)})` : ''
  return `${stage} · ${s.phase}: ${s.message}${p}`
}
