// `Server-Timing: app;dur=<ms>` on every response: how long the tracker took from the request's
// arrival to its response headers. Operators see it in the browser's devtools; the tracker bench
// reads it to tell the tracker's own latency from queueing in the client that measures it.
import type { ServerResponse } from 'node:http'

export function addServerTiming (res: ServerResponse): void {
  const t0 = performance.now()
  const writeHead = res.writeHead
  // Node sends implicit headers through writeHead too, so this covers every response.
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!this.headersSent) this.setHeader('Server-Timing', `app;dur=${(performance.now() - t0).toFixed(2)}`)
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args)
  } as typeof res.writeHead
}

/** The `app` duration of a `Server-Timing` header, in ms; null without one. */
export function serverTimingMs (header: string | string[] | undefined): number | null {
  const text = Array.isArray(header) ? header.join(',') : header ?? ''
  const m = /(?:^|,)\s*app;dur=([0-9.]+)/.exec(text)
  return m == null ? null : Number(m[1])
}
