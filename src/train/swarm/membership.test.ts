import { describe, expect, it } from 'vitest'
import { LISTED_REPLIES, Membership } from './membership.ts'
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

  it('admits a peer listed in one of the last few replies, then not; refreshes at most once a second', async () => {
    const replies = [reply({ prev: ['p1'] }), ...Array.from({ length: LISTED_REPLIES }, () => reply({ prev: ['p2'] }))]
    const t = setup(replies)
    await t.m.beat()
    expect(t.m.listed('prev', 'p1')).toBe(true)
    for (let i = 1; i < LISTED_REPLIES; i++) await t.m.beat()
    expect(t.m.listed('prev', 'p1')).toBe(true) // a reply right after a tracker restart may miss a rejoining peer
    await t.m.beat()
    expect(t.m.listed('prev', 'p1')).toBe(false)
    expect(t.m.listed('prev', 'p2')).toBe(true)
    expect(t.m.listed('next', 'p2')).toBe(false)
    await t.m.refresh() // the last beat was just now: no new heartbeat
    expect(replies).toHaveLength(0)
  })

  it('asks the tracker\'s status who is on a stage (joining, paused) at most once a second, and never vouches for excluded tabs', async () => {
    let asked = 0
    const m = new Membership({
      me: 'me', clock: systemClock, periodMs: 60_000, stage: 1, heartbeat: async () => reply(), stats: () => ({}), isExcluded: () => false, warm: async () => {}, isForgotten: () => false,
      status: async () => { asked++; return { step: 0, totalSteps: 1, done: false, losses: [], microbatches: { scheduled: 0, completed: 0, retried: 0, lost: 0, in_flight: 0 }, stages: [{ stage: 1, replicas: [{ peerId: 'me' }, { peerId: 'joining' }, { peerId: 'bad', excluded: 1 } as { peerId: string }] }] } }
    })
    const answers = await Promise.all(['joining', 'bad', 'me', 'stranger'].map(async p => await m.isStageMember(p)))
    expect(answers).toEqual([true, false, false, false])
    expect(asked).toBe(1)
  })
})
