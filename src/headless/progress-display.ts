// Where the volunteer's progress goes: on a TTY one status line redrawn in place (log lines
// scroll above it); elsewhere (a log file, a service manager) a timestamped line every few seconds.
import type { SwarmSnapshot } from '../train/swarm/swarm-tab.ts'
import { formatProgress, TokenRate } from './progress-line.ts'
import { LOG_EVERY_MS, REDRAW_EVERY_MS } from './constants.ts'

interface Out { write(s: string): unknown, isTTY?: boolean, columns?: number }

export class ProgressDisplay {
  readonly #out: Out
  readonly #tty: boolean
  #rate: TokenRate
  #snapshot: SwarmSnapshot | null = null
  #shown = ''
  #timer: ReturnType<typeof setInterval>

  constructor (out: Out, opts: { tokensPerMicrobatch?: number } = {}) {
    this.#out = out
    this.#tty = out.isTTY === true
    this.#rate = new TokenRate(opts.tokensPerMicrobatch ?? 0)
    this.#timer = setInterval(() => { this.#tick() }, this.#tty ? REDRAW_EVERY_MS : LOG_EVERY_MS)
    this.#timer.unref()
  }

  /** Tokens per microbatch (B·T), once the manifest is known. */
  set tokensPerMicrobatch (n: number) { this.#rate = new TokenRate(n) }

  update (s: SwarmSnapshot): void {
    this.#snapshot = s
    this.#rate.update(s.microbatches, Date.now())
  }

  log (line: string): void {
    if (this.#tty) {
      this.#clear()
      this.#out.write(`${line}\n`)
      this.#draw()
    } else {
      this.#out.write(`${new Date().toISOString()} ${line}\n`)
    }
  }

  close (): void {
    clearInterval(this.#timer)
    if (this.#tty) { this.#clear(); if (this.#shown !== '') this.#out.write(`${this.#shown}\n`) }
  }

  #line (): string | null {
    const s = this.#snapshot
    if (s == null) return null
    return formatProgress(s, this.#rate.update(s.microbatches, Date.now()))
  }

  #tick (): void {
    if (this.#tty) { this.#clear(); this.#draw(); return }
    const s = this.#snapshot
    // Setup phases log their own messages; the periodic line is for training.
    if (s == null || (s.phase !== 'running' && s.phase !== 'paused')) return
    this.#out.write(`${new Date().toISOString()} ${this.#line() ?? ''}\n`)
  }

  #clear (): void { if (this.#shown !== '') this.#out.write('\r\x1b[2K') }

  #draw (): void {
    const line = this.#line()
    if (line == null) return
    const width = Math.max(20, (this.#out.columns ?? 120) - 1)
    this.#shown = line.length > width ? `${line.slice(0, width - 1)}…` : line
    this.#out.write(this.#shown)
  }
}
