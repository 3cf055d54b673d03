// Time as the swarm runtime sees it. Production uses the browser's clock; the simulator passes a
// virtual one, so the same runtime code runs an hour of swarm in seconds.

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number
  /** Calls `fn` after `ms`; returns a handle for `cancel`. */
  after(ms: number, fn: () => void): unknown
  cancel(handle: unknown): void
  /** Resolves after `ms`. */
  sleep(ms: number): Promise<void>
}

export const systemClock: Clock = {
  now: () => performance.now(),
  after: (ms, fn) => setTimeout(fn, ms),
  cancel: handle => { clearTimeout(handle as ReturnType<typeof setTimeout>) },
  sleep: async ms => { await new Promise<void>(resolve => setTimeout(resolve, ms)) }
}
