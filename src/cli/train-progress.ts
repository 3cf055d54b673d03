// Training progress for a terminal: one updating line (bar, step, loss, tokens/s, ETA) on a TTY,
// plain log lines otherwise (CI logs, pipes), so a log file never fills with carriage returns.

export interface ProgressSink {
  write: (s: string) => unknown
  isTTY?: boolean
  columns?: number
}

export interface ProgressInit {
  steps: number
  /** tokens per optimizer step (B·T) */
  tokensPerStep: number
  /** plain mode: log every n-th step (the first and last always). @default about 50 lines a run */
  every?: number
}

export class TrainProgress {
  readonly #out: ProgressSink
  readonly #steps: number
  readonly #tokensPerStep: number
  readonly #every: number
  readonly #recentMs: number[] = []
  #live = false

  constructor (out: ProgressSink, init: ProgressInit) {
    this.#out = out
    this.#steps = init.steps
    this.#tokensPerStep = init.tokensPerStep
    this.#every = init.every ?? Math.max(1, Math.round(init.steps / 50))
  }

  /** Tokens/s over the last steps; the first step (shader compilation) is left out once others exist. */
  get tokensPerSecond (): number {
    const ms = this.#recentMs.reduce((a, b) => a + b, 0)
    return ms > 0 ? this.#recentMs.length * this.#tokensPerStep / ms * 1000 : 0
  }

  step (s: { step: number, loss: number, ms: number }): void {
    if (s.step === 1 && this.#recentMs.length === 1) this.#recentMs.length = 0 // drop step 0 (compiles)
    this.#recentMs.push(s.ms)
    if (this.#recentMs.length > 20) this.#recentMs.shift()
    const done = s.step + 1
    const tps = this.tokensPerSecond
    const msPerStep = this.#recentMs.reduce((a, b) => a + b, 0) / this.#recentMs.length
    const eta = formatDuration((this.#steps - done) * msPerStep / 1000)
    const width = String(this.#steps).length
    const head = `step ${String(done).padStart(width)}/${this.#steps}`
    const stats = `loss ${s.loss.toFixed(4)} | ${Math.round(tps)} tok/s | ETA ${eta}`
    if (this.#out.isTTY === true) {
      const cols = this.#out.columns != null && this.#out.columns > 0 ? this.#out.columns : 100 // 0 on some ptys
      const barWidth = Math.max(0, Math.min(30, cols - head.length - stats.length - 6))
      const filled = Math.round(barWidth * done / this.#steps)
      const bar = barWidth > 0 ? ` [${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]` : ''
      this.#out.write(`\r\x1b[2K${head}${bar} ${stats}`)
      this.#live = true
      if (done === this.#steps) this.end()
      return
    }
    if (s.step === 0 || done % this.#every === 0 || done === this.#steps) {
      this.#out.write(`${head} loss ${s.loss.toFixed(4)} ${Math.round(tps)} tok/s ${s.ms.toFixed(0)} ms ETA ${eta}\n`)
    }
  }

  /** Ends the updating line, so that what follows starts on a fresh one. */
  end (): void {
    if (this.#live) this.#out.write('\n')
    this.#live = false
  }
}

export function formatDuration (seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?'
  const s = Math.round(seconds)
  const h = Math.floor(s / 3600); const m = Math.floor(s / 60) % 60; const sec = s % 60
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`
}
