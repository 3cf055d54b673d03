import { describe, expect, it } from 'vitest'
import { Membership } from './membership.ts'
import { systemClock } from './clock.ts'
import type { HeartbeatReply } from '../../protocol/swarm.ts'

const reply = (p: Partial<HeartbeatReply> = {}): HeartbeatReply => ({ stage: 0, step: 0, done: false, replicas: ['me'], next: ['n1'], prev: [], excluded: false, ...p })

function setup (replies: Array<HeartbeatReply | Error>) {
  const events: string[] = []
  const warmed: string[] = []
  const m = new Membership({
    me: 'me', clock: systemClock, periodMs: 60_000,
    heartbeat: async () => { const r = replies.shift()!; if (r instanceof Error) throw r; return r },
    stats: () => ({ microbatches: 1 }),
    isExcluded: p => p === 'bad',
    warm: async p => { warmed.push(p) },
    onChange: () => { events.push('change') },
    onStep: s => { events.push(`step ${s}`) },
    onExcluded: () => { events.push('excluded') },
    onDone: () => { events.push('done') },
    onForgotten: async () => { events.push('rejoin') },
    isForgotten: err => (err as Error).message === '409'
  })
  return { m, events, warmed }
}

describe('Membership', () => {
  it('learns replicas and next-stage peers, leaves out excluded ones, and warms connections', async () => {
    const t = setup([reply({ next: ['n1', 'bad'], replicas: ['me', 'r2'] }), reply({ next: ['n1'], replicas: ['me', 'r2'], step: 4 })])
    await t.m.beat()
    expect(t.m.next).toEqual(['n1'])
    expect(t.m.replicas).toEqual(['me', 'r2'])
    await t.m.beat()
    expect(t.events).toEqual(['step 0', 'change', 'step 4']) // unchanged lists: no change event
    await new Promise(r => setTimeout(r, 0))
    expect(t.warmed.sort()).toEqual(['n1', 'r2'])
  })

  it('tells exclusion, the end of the run, and a tracker that forgot this tab', async () => {
    const t = setup([reply({ excluded: true, done: true }), new Error('409'), new Error('network')])
    await t.m.beat()
    await t.m.beat()
    await t.m.beat()
    expect(t.events).toEqual(['excluded', 'step 0', 'done', 'change', 'rejoin'])
  })
})
