// Attacks on one replica's runtime through its front door (accept, provideWeights): each is
// refused before it touches state (no kernel runs, the step does not move), a violator is
// disconnected and reported, and honest tensors from listed peers still go through.
import { afterEach, describe, expect, it } from 'vitest'
import { SwarmRuntime } from './runtime.ts'
import { systemClock } from './clock.ts'
import { flush, recordingKernels } from './test-fakes.ts'
import { SWARM_DEFAULTS } from '../../campaign/swarm-settings.ts'
import type { HeartbeatReply, PeerReportBody, SwarmStatus } from '../../protocol/swarm.ts'
import type { HopSigner, InboundTensor, OutboundTensor } from './transport.ts'
import { STEP_BOMB_MARGIN } from './peer-gate.ts'

const STEP = 5
const SHAPE: [number, number, number] = [1, 2, 2]

const signer: HopSigner = {
  sign: async hop => ({ receipt: { campaign: 'c', from: 'me', ...hop }, fromSig: '' }) as never,
  countersign: async r => ({ ...r, toSig: '' }) as never,
  digest: async data => `d${data.length}:${Array.from(data).join(',')}`
}

const running: SwarmRuntime[] = []
afterEach(async () => { for (const r of running.splice(0)) await r.stop() })

/** A middle stage (1 of 3): p1, p2 before it, n1 after it, r2 beside it, j1 joining it. */
async function middle () {
  const kernels = recordingKernels()
  const sent: Array<{ to: string } & OutboundTensor> = []
  const reports: Array<{ peer: string } & PeerReportBody> = []
  const disconnected: string[] = []
  let beats = 0
  const reply: HeartbeatReply = { stage: 1, step: STEP, done: false, replicas: ['me', 'r2'], next: ['n1'], prev: ['p1', 'p2'], excluded: false }
  const status = { step: STEP, totalSteps: 100, done: false, losses: [], microbatches: { scheduled: 0, completed: 0, retried: 0, lost: 0, in_flight: 0 },
    stages: [{ stage: 0, replicas: [{ peerId: 'p1' }, { peerId: 'p2' }, { peerId: 'paused', paused: 1 }, { peerId: 'flagged', excluded: 1 } as { peerId: string }] }, { stage: 1, replicas: [{ peerId: 'me' }, { peerId: 'r2' }, { peerId: 'j1' }] }, { stage: 2, replicas: [{ peerId: 'n1' }] }] } satisfies SwarmStatus
  const runtime = new SwarmRuntime({
    me: 'me', campaign: 'c', stage: 1, stages: 3, isFirst: false, isLast: false,
    training: { microbatch: 1, accumulation: 4, seq_len: 2, lr: 1e-3, lr_schedule: 'constant', warmup_steps: 0, steps: 100, weight_decay: 0, grad_clip: 1, sync_every: 1000, seed: 1 },
    settings: { ...SWARM_DEFAULTS, lookahead: 1 }, spotCheckRate: 0, shape: SHAPE, flops: { forward: 1, backward: 2 },
    tracker: {
      heartbeat: async () => { beats++; return reply },
      lease: async () => ({ step: STEP, leases: [] }),
      complete: async () => ({ step: STEP, leases: [], credited: true }),
      release: async () => {},
      learned: async () => null,
      spotcommit: async () => ({ checked: false }),
      spotcheck: async () => ({ verdicts: [] }),
      join: async () => ({ stage: 1, range: { first: 1, last: 1 }, stages: 3, step: STEP, replicas: reply.replicas }),
      report: async b => { reports.push({ peer: 'me', ...b }) },
      evalloss: async () => {},
      status: async () => status
    },
    transport: {
      send: async (to, t) => { sent.push({ to, ...t }); return { ms: 1, bytes: t.data.byteLength } },
      connected: () => true,
      warm: async () => {},
      fetchWeights: async () => { throw new Error('no peers in this test') },
      disconnect: async peer => { disconnected.push(peer) }
    },
    signer, kernels, clock: systemClock, slots: 4, initialStep: STEP, initialParams: new Float32Array([1, 2, 3, 4]),
    replicas: reply.replicas, throughput: 1, data: null, timings: { heartbeatMs: 60_000, routeCheckMs: 60_000 }
  })
  running.push(runtime)
  await runtime.start()
  return { runtime, kernels, sent, reports, disconnected, beats: () => beats }
}

async function tensor (p: { from: string, kind?: 'activations' | 'gradients', mb?: number, step?: number, data?: Float32Array, shape?: number[] }): Promise<InboundTensor> {
  const data = p.data ?? new Float32Array([0.5, 0.25, -1, 2])
  const sha256 = await signer.digest(data)
  const mb = p.mb ?? 3
  return {
    microbatch: mb, kind: p.kind ?? 'activations', optimizerStep: p.step ?? STEP, data, from: p.from, sha256, shape: p.shape ?? SHAPE,
    meta: { receipts: [{ receipt: { from: p.from, to: 'me', outDigest: sha256, microbatch: mb }, fromSig: '' }] }
  }
}

/** Runs accept, which may throw at once or reject later (after one membership refresh). */
async function accepting (r: SwarmRuntime, t: InboundTensor): Promise<Error | null> {
  try {
    await r.accept(t)
    await flush()
    return null
  } catch (err) {
    return err as Error
  }
}

const computed = (k: { calls: string[] }): string[] => k.calls.filter(c => !['export', 'import'].includes(c))

describe('the peer gate of a runtime', () => {
  it('takes honest activations from a listed previous-stage peer and sends them on', async () => {
    const t = await middle()
    expect(await accepting(t.runtime, await tensor({ from: 'p1' }))).toBeNull()
    await flush()
    expect(computed(t.kernels)).toEqual(['forward@0'])
    expect(t.sent.map(s => [s.to, s.kind, s.microbatch])).toEqual([['n1', 'activations', 3]])
  })

  it('unsolicited tensors: activations from an unlisted peer and gradients for a route never sent are nacked, nothing runs', async () => {
    const t = await middle()
    expect((await accepting(t.runtime, await tensor({ from: 'outsider' })))?.name).toBe('UnlistedPeerError')
    expect((await accepting(t.runtime, await tensor({ from: 'outsider', kind: 'gradients', mb: 9 })))?.name).toBe('UnsolicitedError')
    // A next-stage peer's gradients for a microbatch this tab never sent it: acked and dropped.
    expect(await accepting(t.runtime, await tensor({ from: 'n1', kind: 'gradients', mb: 9 }))).toBeNull()
    // Activations from the next stage are not from the previous one.
    expect((await accepting(t.runtime, await tensor({ from: 'n1' })))?.name).toBe('UnlistedPeerError')
    expect(computed(t.kernels)).toEqual([])
    expect(t.runtime.router.routes.size).toBe(0)
    // Unlisted may be lag (a tab that just joined): refused, not reported.
    expect(t.reports).toEqual([])
  })

  it('takes a sender the tracker lists only after a refresh (a tab that just joined the previous stage)', async () => {
    const t = await middle()
    await new Promise(resolve => setTimeout(resolve, 1_050)) // past the refresh's minimum interval
    const before = t.beats()
    // The tracker now lists p3; this tab's last reply did not.
    const listed = t.runtime.membership.listed.bind(t.runtime.membership)
    t.runtime.membership.listed = (role, peer) => peer === 'p3' ? t.beats() > before : listed(role, peer)
    expect(await accepting(t.runtime, await tensor({ from: 'p3' }))).toBeNull()
    expect(t.beats()).toBe(before + 1)
    expect(computed(t.kernels)).toEqual(['forward@0'])
  })

  it('takes a paused previous-stage tab\'s microbatches in flight (the tracker\'s status shows it), not an excluded one\'s', async () => {
    const t = await middle()
    expect(await accepting(t.runtime, await tensor({ from: 'paused' }))).toBeNull()
    expect((await accepting(t.runtime, await tensor({ from: 'flagged', mb: 4 })))?.name).toBe('UnlistedPeerError')
    expect(computed(t.kernels)).toEqual(['forward@0'])
  })

  it('NaN activations are refused before any kernel; the sender is disconnected, reported and refused after', async () => {
    const t = await middle()
    const err = await accepting(t.runtime, await tensor({ from: 'p1', data: new Float32Array([0, NaN, 1, 2]) }))
    expect(err?.name).toBe('NonFiniteError')
    expect(computed(t.kernels)).toEqual([])
    expect(t.disconnected).toEqual(['p1'])
    expect(t.reports).toEqual([{ peer: 'me', offender: 'p1', reason: 'NonFiniteError' }])
    expect((await accepting(t.runtime, await tensor({ from: 'p1' })))?.name).toBe('BannedPeerError')
    // Honest training goes on through the other replica of the previous stage.
    expect(await accepting(t.runtime, await tensor({ from: 'p2', mb: 4 }))).toBeNull()
    expect(computed(t.kernels)).toEqual(['forward@0'])
  })

  it('NaN or Inf gradients never reach the backward (so never the optimizer or a sync)', async () => {
    const t = await middle()
    expect(await accepting(t.runtime, await tensor({ from: 'p1' }))).toBeNull()
    await flush()
    expect(t.sent[0]?.to).toBe('n1')
    const err = await accepting(t.runtime, await tensor({ from: 'n1', kind: 'gradients', data: new Float32Array([1, Infinity, 0, 0]) }))
    expect(err?.name).toBe('NonFiniteError')
    expect(computed(t.kernels)).toEqual(['forward@0'])
    expect(t.runtime.steps.accumulated).toBe(0)
    expect(t.reports.map(r => r.offender)).toEqual(['n1'])
  })

  it('a wrong shape (declared or by length) is refused before any kernel', async () => {
    const t = await middle()
    expect((await accepting(t.runtime, await tensor({ from: 'p1', shape: [4, 1, 1] })))?.name).toBe('ShapeError')
    expect((await accepting(t.runtime, await tensor({ from: 'p2', data: new Float32Array(5), shape: [1, 5, 1] })))?.name).toBe('ShapeError')
    expect(computed(t.kernels)).toEqual([])
    expect(t.reports.map(r => r.reason)).toEqual(['ShapeError', 'ShapeError'])
  })

  it('a step bomb (current + 1e6) is refused: the step does not move and the tab keeps training', async () => {
    const t = await middle()
    expect((await accepting(t.runtime, await tensor({ from: 'p1', step: STEP + 1e6 })))?.name).toBe('StepBombError')
    expect((await accepting(t.runtime, await tensor({ from: 'p2', mb: 7, step: Number.MAX_SAFE_INTEGER })))?.name).toBe('StepBombError')
    await t.runtime.steps.settled()
    expect(t.runtime.steps.applied).toBe(STEP)
    expect(t.runtime.steps.target).toBe(STEP)
    expect(t.reports.map(r => r.reason)).toEqual(['StepBombError', 'StepBombError'])
    // Not frozen: a third previous-stage peer's honest tensor goes through at once.
    t.runtime.membership.prev = ['p4']
    const listed = t.runtime.membership.listed.bind(t.runtime.membership)
    t.runtime.membership.listed = (role, peer) => (role === 'prev' && peer === 'p4') || listed(role, peer)
    expect(await accepting(t.runtime, await tensor({ from: 'p4', mb: 8 }))).toBeNull()
    expect(computed(t.kernels)).toEqual(['forward@0'])
  })

  it('a step a few past the tracker\'s is taken but moves this replica at most one step past it (no ratchet)', async () => {
    const t = await middle()
    for (let i = 0; i < 5; i++) expect(await accepting(t.runtime, await tensor({ from: 'p1', mb: 10 + i, step: STEP + 2 + i }))).toBeNull()
    await t.runtime.steps.settled()
    expect(t.runtime.steps.applied).toBe(STEP + 1)
    expect(STEP + 2 + 4).toBeLessThan(STEP + STEP_BOMB_MARGIN)
    expect(t.reports).toEqual([])
  })

  it('serves weights only to replicas of its own stage the tracker knows (a joining one included)', async () => {
    const t = await middle()
    expect((await t.runtime.provideWeights('latest', 'r2'))?.params).toEqual(new Float32Array([1, 2, 3, 4]))
    expect((await t.runtime.provideWeights('latest', 'j1'))?.params).toEqual(new Float32Array([1, 2, 3, 4])) // joined, not ready yet
    for (const outsider of ['outsider', 'p1', 'n1']) {
      await expect(t.runtime.provideWeights('latest', outsider)).rejects.toMatchObject({ name: 'UnlistedPeerError' })
    }
    await expect(t.runtime.provideWeights(STEP + 1e6, 'r2')).rejects.toMatchObject({ name: 'StepBombError' })
    expect(t.runtime.steps.applied).toBe(STEP)
    expect(t.reports.map(r => [r.offender, r.reason])).toEqual([['r2', 'StepBombError']])
  })
})
