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

/**
 * The system clock with its waits driven by `sleep`: a page passes one that hidden tabs do not
 * throttle (a timer in a worker), so no runtime timer drifts to Chrome's 1 s alignment.
 */
export function clockWithSleep (sleep: (ms: number) => Promise<void>): Clock {
  return {
    now: systemClock.now,
    after: (ms, fn) => {
      const handle = { cancelled: false }
      void sleep(ms).then(() => { if (!handle.cancelled) fn() })
      return handle
    },
    cancel: handle => { (handle as { cancelled: boolean }).cancelled = true },
    sleep
  }
}
