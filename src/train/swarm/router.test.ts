import { describe, expect, it } from 'vitest'
import { Router } from './router.ts'
import { ReplicaPicker } from './replica-picker.ts'
import type { Clock } from './clock.ts'

function manualClock (): Clock & { t: number } {
  const c = { t: 0, now: () => c.t, after: () => null, cancel: () => {}, sleep: async () => {} }
  return c
}

function setup (opts: { failing?: Set<string>, next?: string[], connected?: (p: string) => boolean } = {}) {
  const clock = manualClock()
  const sent: string[] = []
  let next = opts.next ?? ['x', 'y']
  let retries = 0
  const router = new Router({
    picker: new ReplicaPicker(), clock, next: () => next, routeTimeoutMs: 1000,
    connected: opts.connected ?? (() => true),
    sendTo: async to => { sent.push(to); if (opts.failing?.has(to) === true) throw new Error('refused'); return 10 },
    onRetry: () => { retries++ }
  })
  const open = (mb: number) => {
    const r = router.open(mb, { input: new Float32Array(1), inDigest: 'd', from: null, receipts: [] })
    r.activations = new Float32Array(1)
    return r
  }
  return { router, clock, sent, open, setNext: (n: string[]) => { next = n }, retries: () => retries }
}

describe('Router', () => {
  it('sends to a next-stage replica and, when it refuses, to another (a retry)', async () => {
    const t = setup({ failing: new Set(['x']) })
    const to = await t.router.forward(1, t.open(1))
    expect(to).toBe('y')
    expect(t.sent).toEqual(['x', 'y'])
    expect(t.retries()).toBe(1)
  })

  it('throws NoReplicaError when every replica refused', async () => {
    const t = setup({ failing: new Set(['x', 'y']) })
    await expect(t.router.forward(1, t.open(1))).rejects.toMatchObject({ name: 'NoReplicaError' })
  })

  it('keeps a microbatch no replica took as unsent, for the next route check to try again', async () => {
    const t = setup({ failing: new Set(['x', 'y']) })
    const r = t.open(5)
    const sending = t.router.forward(5, r)
    expect(t.router.unsent()).toEqual([]) // a send is under way
    await expect(sending).rejects.toMatchObject({ name: 'NoReplicaError' })
    expect(t.router.unsent().map(([mb]) => mb)).toEqual([5])
  })

  it('takes gradients only from the replica the activations went to', async () => {
    const t = setup()
    const r = t.open(3)
    await t.router.forward(3, r)
    const other = r.sentTo === 'x' ? 'y' : 'x'
    expect(t.router.answer(3, other)).toBeNull()
    expect(t.router.answer(3, r.sentTo!)).toBe(r)
    expect(t.router.routes.has(3)).toBe(false)
  })

  it('reports routes whose receiver\'s connection closed or that timed out, once, for re-routing', async () => {
    let up = true
    const t = setup({ next: ['x'], connected: () => up })
    const r1 = t.open(1)
    await t.router.forward(1, r1)
    t.setNext([]) // the tracker's list alone (empty right after a restart) is no reason
    expect(t.router.stale()).toEqual([])
    up = false
    expect(t.router.stale().map(([mb]) => mb)).toEqual([1])
    expect(r1.sentTo).toBeNull()
    expect(t.router.stale()).toEqual([]) // unsent routes are not reported again
    up = true
    t.setNext(['x'])
    const r2 = t.open(2)
    await t.router.forward(2, r2)
    t.clock.t = 1501
    expect(t.router.stale()).toEqual([]) // late, but the only replica: no duplicate, keep waiting
    t.setNext(['x', 'y'])
    t.clock.t = 3100
    expect(t.router.stale().map(([mb]) => mb)).toEqual([2])
    // The slow replica's answer, if it comes after all, still counts.
    expect(t.router.answer(2, 'x')).toBe(r2)
  })
})
