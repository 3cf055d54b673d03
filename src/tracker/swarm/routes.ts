// HTTP routes of a campaign's swarm, under /api/campaigns/:id/… . The bodies are the wire
// contract in src/protocol/swarm.ts. Every POST is signed by the calling tab's libp2p key
// (caller-auth.ts) and may only speak for that tab. A completion must come from the lease holder,
// and its receipts (every hop, its members and digest chain) are checked before anything changes;
// the microbatch is done only once its ledger entry is durable. The reply carries the tab's next
// leases (`window`), so a busy stage-0 tab never asks separately.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Coordinator, NotLeaseHolderError, NotStageZeroError, UnknownTabError } from './coordinator.ts'
import { createCallerAuth, type CallerAuth } from './caller-auth.ts'
import { checkRoute } from './route-check.ts'
import { openSwarmStateStore } from './swarm-state.ts'
import { MAX_LEASE_WINDOW, PEER_REPORT_REASONS, type CompleteReply, type HeartbeatReply, type LeaseReply, type LearnedReply, type PeerReportReason } from '../../protocol/swarm.ts'
import { PeerReports } from './peer-reports.ts'
import type { Reachability } from '../reachability.ts'
import { swarmSettingsOf } from '../../campaign/swarm-settings.ts'
import { SpotChecks } from '../../ledger/spot-checks.ts'
import { SpotAudit } from './spot-audit.ts'
import { LearnedCounts } from './learned-counts.ts'
import { ValidationBook } from './validation-book.ts'
import { evalEvery, evaluatesAfter, VALIDATION_BATCHES } from '../../train/evaluate.ts'
import type { Bindings } from '../../identity/bindings.ts'
import { parseHeartbeatStats } from '../heartbeat-stats.ts'
import { createLogger } from '../../log.ts'
import { randomBytes } from 'node:crypto'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'

const log = createLogger('tabgrad:tracker:swarm')
import { readJsonBody, sendJson, sendJsonCached, type JsonSnapshots } from '../http-util.ts'
import { BadRequestError, ForbiddenError, HttpError, MethodNotAllowedError, NotFoundError } from '../errors.ts'
import type { CampaignStore } from '../campaign-store.ts'
import { splitStages, stageFlops } from '../../model/config.ts'
import type { CampaignManifest } from '../../campaign/manifest.ts'
import type { CampaignLedgers } from '../campaign-ledgers.ts'

export interface SwarmRoutesInit {
  campaigns: CampaignStore
  /** @default 15000 */
  tabTimeoutMs?: number
  /** @default 120000 */
  leaseTimeoutMs?: number
  /** Checks a completion's receipts and appends first-time completions to the ledger. */
  ledgers?: CampaignLedgers
  /** Encoded status snapshots shared with the campaign routes (keys start with the campaign id). @default none */
  snapshots?: JsonSnapshots
  /** Where flagged peers are persisted (`swarm/<campaign>.json`). @default memory only */
  dataDir?: string
  /** Checks who signed each call. @default createCallerAuth() */
  auth?: CallerAuth
  /** Which tab pairs cannot talk, as tabs report it: a tab is not told to route to those. @default none known */
  reachability?: Pick<Reachability, 'kind'>
  /** Which address each PeerId signed in as: spot-check votes count per address. @default no one is bound */
  bindings?: Pick<Bindings, 'addressOf'>
  /** How long a checked route member has to open its check. @default 90000 */
  spotDeadlineMs?: number
}

export interface SwarmRoutes {
  /** Handles the request if it is a swarm route; returns false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>
  coordinator(campaignId: string): Coordinator | undefined
  spotChecks(campaignId: string): SpotChecks | undefined
  /** The campaign's commit/reveal audit of spot checks (which checks are due, who skipped). */
  spotAudit(campaignId: string): SpotAudit | undefined
  /** Peers tabs disconnected, with who reported them. */
  peerReports(campaignId: string): PeerReports | undefined
}

const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]{32,64}$/

/**
 * The replicas `from` can route to: those not reported unreachable from it (either side's
 * report). If that leaves none, all of them: a stale report must not strand a stage.
 */
function reachableFilter (reachability: Pick<Reachability, 'kind'> | undefined): (from: string, peers: string[]) => string[] {
  return (from, peers) => {
    if (reachability == null) return peers
    const ok = peers.filter(p => reachability.kind(from, p) !== 'unreachable')
    return ok.length > 0 ? ok : peers
  }
}

/**
 * Stages a joining tab would be cut off on: an adjacent stage has replicas and the tab is reported
 * unable to reach any of them. Empty when nothing is known (a tab new to this tracker).
 */
function cutOffFilter (reachability: Pick<Reachability, 'kind'> | undefined): (peer: string, stages: number, replicas: (stage: number) => string[]) => number[] {
  return (peer, stages, replicas) => {
    if (reachability == null) return []
    const unreachable = (stage: number): boolean => {
      const list = stage >= 0 && stage < stages ? replicas(stage) : []
      return list.length > 0 && list.every(p => reachability.kind(peer, p) === 'unreachable')
    }
    return Array.from({ length: stages }, (_, s) => s).filter(s => unreachable(s - 1) || unreachable(s + 1))
  }
}

function peerIdOf (body: Record<string, unknown>): string {
  const p = body.peerId
  if (typeof p !== 'string' || !PEER_ID.test(p)) throw new BadRequestError('peerId must be a base58 libp2p PeerId')
  return p
}

function intOf (body: Record<string, unknown>, key: string, optional = false): number | undefined {
  const v = body[key]
  if (v == null && optional) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new BadRequestError(`${key} must be a non-negative integer`)
  return v
}

/** Bytes a replica of each stage uploads per microbatch: (B, T, C) fp32 activations on (not the last stage) and gradients back (not stage 0). */
export function stageBytesOf (m: CampaignManifest): number[] {
  const tensor = 4 * m.training.microbatch * m.training.seq_len * m.model.d_model
  return Array.from({ length: m.stages }, (_, s) => (s + 1 < m.stages ? tensor : 0) + (s > 0 ? tensor : 0))
}

export function stageWorkOf (m: CampaignManifest): number[] {
  return splitStages(m.model, m.stages).map(r => stageFlops(m.model, r, m.training.microbatch, m.training.seq_len).total)
}

export function createSwarmRoutes (init: SwarmRoutesInit): SwarmRoutes {
  const coordinators = new Map<string, Coordinator>()
  const checks = new Map<string, SpotChecks>()
  const audits = new Map<string, { audit: SpotAudit, sweptAt: number }>()
  const learned = new Map<string, LearnedCounts>()
  const validation = new Map<string, ValidationBook>()
  const reports = new Map<string, PeerReports>()
  const reachableFrom = reachableFilter(init.reachability)
  const cutOffStages = cutOffFilter(init.reachability)
  const auth = init.auth ?? createCallerAuth()
  const state = openSwarmStateStore(init.dataDir)
  // Flagged peers' shares stay withheld from the first ownership request after a restart.
  for (const rec of init.campaigns.list()) for (const p of state.load(rec.id).excluded) init.ledgers?.withhold(rec.id, p)

  function coordinatorFor (id: string): { coord: Coordinator, manifest: CampaignManifest } {
    const rec = init.campaigns.get(id)
    if (rec == null) throw new NotFoundError(`no campaign ${id}`)
    let coord = coordinators.get(id)
    if (coord == null) {
      const m = rec.manifest
      coord = new Coordinator({
        stages: m.stages,
        accumulation: m.training.accumulation,
        totalSteps: m.training.steps,
        stageWork: stageWorkOf(m),
        stageBytes: stageBytesOf(m),
        lookahead: swarmSettingsOf(m).lookahead,
        ...(init.tabTimeoutMs != null ? { tabTimeoutMs: init.tabTimeoutMs } : {}),
        ...(init.leaseTimeoutMs != null ? { leaseTimeoutMs: init.leaseTimeoutMs } : {})
      })
      // A restarted tracker: the ledger says what is done (so the step), the state file who is flagged.
      const ledgers = init.ledgers
      let pastLife = false
      if (ledgers != null) coord.restoreDone(mb => { const c = ledgers.has(id, mb); pastLife ||= c; return c })
      for (const p of state.load(id).excluded) coord.exclude(p)
      coordinators.set(id, coord)
      // Counts start now: a period begun before a restart (credits this process never saw) is not final.
      learned.set(id, new LearnedCounts(m.training.accumulation, m.training.sync_every, pastLife ? coord.step + 1 : coord.step))
    }
    return { coord, manifest: rec.manifest }
  }

  /** The campaign's spot-check audit, its secret created once and kept in the state file. */
  async function auditFor (id: string, m: CampaignManifest): Promise<SpotAudit> {
    const held = audits.get(id)
    if (held != null) return held.audit
    let saved = state.load(id)
    if (saved.spotSecret == null) {
      saved = { ...saved, spotSecret: bytesToHex(randomBytes(32)) }
      await state.save(id, saved)
    }
    // Another request may have made it while the secret was being saved.
    const again = audits.get(id)
    if (again != null) return again.audit
    let sc = checks.get(id)
    if (sc == null) { sc = new SpotChecks(); checks.set(id, sc) }
    const audit = new SpotAudit({
      secret: hexToBytes(saved.spotSecret!),
      rate: m.spot_check_rate,
      syncEvery: m.training.sync_every,
      accumulation: m.training.accumulation,
      stages: m.stages,
      checks: sc,
      ...(init.spotDeadlineMs != null ? { deadlineMs: init.spotDeadlineMs } : {})
    })
    audits.set(id, { audit, sweptAt: 0 })
    init.ledgers?.pendWith(id, (peer, mb) => audit.isPending(peer, mb))
    return audit
  }

  /** Stage 0's leases, with the ones it must shadow to every stage-1 replica. */
  async function withShadows<T extends LeaseReply> (id: string, m: CampaignManifest, reply: T): Promise<T> {
    if (m.spot_check_rate <= 0 || m.stages < 2 || reply.leases.length === 0) return reply
    const audit = await auditFor(id, m)
    const shadows = reply.leases.filter(l => audit.selects(l.id, 1)).map(l => l.id)
    return shadows.length > 0 ? { ...reply, shadows } : reply
  }

  /** Excludes peers and withholds their share, durably before the caller replies. */
  async function exclude (id: string, coord: Coordinator, peers: readonly string[]): Promise<void> {
    if (peers.length === 0) return
    for (const p of peers) {
      coord.exclude(p)
      init.ledgers?.withhold(id, p)
    }
    // A restart must not hand an excluded peer its share back.
    await state.save(id, { ...state.load(id), excluded: coord.excludedPeers() })
  }

  /** Counts overdue spot checks as skipped, at most once a second; too many skips exclude the peer. */
  async function sweep (id: string, coord: Coordinator): Promise<void> {
    const held = audits.get(id)
    if (held == null || Date.now() - held.sweptAt < 1000) return
    held.sweptAt = Date.now()
    const due = held.audit.due
    const skippers = held.audit.sweep()
    if (held.audit.due !== due) init.snapshots?.invalidate(id) // the status shows skips
    for (const p of skippers) log.info(`spotcheck ${id.slice(0, 8)}: ${p.slice(-8)} skipped ${held.audit.skipsOf(p)} checks: excluded`)
    await exclude(id, coord, skippers)
  }

  async function handle (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const m = /^\/api\/campaigns\/([0-9a-f]{32})\/(join|heartbeat|lease|complete|release|loss|leave|spotcommit|spotcheck|report|evalloss|swarm|learned)$/.exec(path)
    if (m == null) return false
    const [, id, action] = m
    const { coord, manifest } = coordinatorFor(id)
    if (action === 'swarm') {
      if (req.method !== 'GET') throw new MethodNotAllowedError()
      coord.expire()
      // `?since=S` returns only the losses of steps after S (pollers keep what they have).
      const since = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('since') ?? NaN)
      const build = (): unknown => {
        const status = coord.status()
        if (Number.isSafeInteger(since)) status.losses = status.losses.filter(l => l.step > since)
        const audit = audits.get(id)?.audit
        const sc = checks.get(id)
        if (audit != null) status.spot_due = audit.due
        const val = validation.get(id)
        if (val != null) status.validation = val.points().filter(p => !Number.isSafeInteger(since) || p.step > since)
        for (const st of status.stages) {
          for (const r of st.replicas) {
            if (sc?.isVerified(r.peerId) === true) r.verified = 1
            const skipped = audit?.skipsOf(r.peerId) ?? 0
            if (skipped > 0) r.skipped = skipped
          }
        }
        return status
      }
      sendJsonCached(req, res, init.snapshots != null ? init.snapshots.get(`${id}/swarm?${since}`, build) : build())
      return true
    }
    if (action === 'learned') {
      // `?step=k`: microbatches each peer was credited for in the sync period ending at step k.
      if (req.method !== 'GET') throw new MethodNotAllowedError()
      const step = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('step'))
      if (!Number.isSafeInteger(step) || step < 0) throw new BadRequestError('step must be a non-negative integer')
      const counts = learned.get(id)
      const reply: LearnedReply = { step, final: coord.step >= step && counts != null && counts.sawWhole(step), counts: counts?.countsAt(step) ?? {} }
      sendJson(res, 200, reply)
      return true
    }
    if (req.method !== 'POST') throw new MethodNotAllowedError()
    const raw = await readJsonBody(req)
    if (typeof raw !== 'object' || raw == null || Array.isArray(raw)) throw new BadRequestError('body must be a JSON object')
    const body = raw as Record<string, unknown>
    const caller = await auth.authenticate(req, path, body)
    const peerId = peerIdOf(body)
    if (peerId !== caller) throw new ForbiddenError('the call is signed by another peer than the body\'s peerId')
    /** A spot-check call's stage: only a joined replica of that stage commits or votes on it. */
    const onOwnStage = (b: Record<string, unknown>): number => {
      const stage = intOf(b, 'stage')!
      const tab = coord.tab(peerId)
      if (tab == null) throw new UnknownTabError(`${peerId} has not joined this campaign`)
      if (tab.stage !== stage) throw new ForbiddenError(`${peerId} trains stage ${tab.stage}, not ${stage}: only replicas of the checked stage vote on it`)
      coord.heartbeat(peerId)
      return stage
    }
    try {
      switch (action) {
        case 'join': {
          const throughput = typeof body.throughput === 'number' && Number.isFinite(body.throughput) && body.throughput > 0 ? body.throughput : undefined
          const bandwidth = typeof body.bandwidth === 'number' && Number.isFinite(body.bandwidth) && body.bandwidth > 0 ? body.bandwidth : undefined
          const tab = coord.join(peerId, { throughput, bandwidth, stage: intOf(body, 'stage', true), avoid: cutOffStages(peerId, manifest.stages, s => coord.replicas(s)) })
          const ranges = splitStages(manifest.model, manifest.stages)
          sendJson(res, 200, { stage: tab.stage, range: ranges[tab.stage], stages: manifest.stages, step: coord.step, replicas: coord.replicas(tab.stage) })
          break
        }
        case 'heartbeat': {
          await sweep(id, coord)
          const tab = coord.heartbeat(peerId, parseHeartbeatStats(body.stats))
          const reply: HeartbeatReply = { stage: tab.stage, step: coord.step, done: coord.done, replicas: coord.replicas(tab.stage), next: tab.stage + 1 < manifest.stages ? reachableFrom(peerId, coord.replicas(tab.stage + 1)) : [], prev: tab.stage > 0 ? coord.replicas(tab.stage - 1) : [], excluded: coord.isExcluded(peerId) }
          if (manifest.spot_check_rate > 0 && tab.stage + 1 < manifest.stages) reply.shadows = (await auditFor(id, manifest)).shadowsAhead(tab.stage, coord.step)
          sendJson(res, 200, reply)
          break
        }
        case 'lease':
          sendJson(res, 200, await withShadows(id, manifest, coord.lease(peerId, Math.min(MAX_LEASE_WINDOW, intOf(body, 'max', true) ?? 1))))
          break
        case 'complete': {
          const mb = intOf(body, 'microbatch')!
          // The last stage's loss of it, relayed by stage 0 (optional).
          const rawLoss = body.loss
          if (rawLoss != null && (typeof rawLoss !== 'number' || !Number.isFinite(rawLoss))) throw new BadRequestError('loss must be a finite number')
          const loss = typeof rawLoss === 'number' ? rawLoss : undefined
          // Only a lease holder may complete (403), and receipts are checked before anything
          // changes: a bad one completes nothing.
          coord.mayComplete(peerId, mb)
          const checked = init.ledgers != null ? await init.ledgers.check(id, mb, peerId, body.receipts) : undefined
          if (checked != null && coord.mayComplete(peerId, mb) === 'credit') {
            checkRoute(coord, manifest.stages, checked.credits, checked.receipts)
            // Done only once the ledger entry is durable (appends are batched with one fsync): a
            // failed append leaves the microbatch leased, to be completed or re-run.
            await init.ledgers!.append(id, mb, checked)
            learned.get(id)?.record(mb, checked.credits.map(c => c.peerId))
            // Checked route members owe their reports from now on; their credit for it waits.
            if (manifest.spot_check_rate > 0) (await auditFor(id, manifest)).credited(mb, checked.receipts)
          }
          const credited = coord.complete(peerId, mb, loss)
          const window = Math.min(MAX_LEASE_WINDOW, intOf(body, 'window', true) ?? 0)
          const next = window > 0 ? coord.lease(peerId, window) : { step: coord.step, leases: [] }
          const reply: CompleteReply = { credited, ...await withShadows(id, manifest, next) }
          sendJson(res, 200, reply)
          break
        }
        case 'release':
          coord.release(peerId, intOf(body, 'microbatch')!)
          sendJson(res, 200, { ok: true })
          break
        case 'loss': {
          const loss = body.loss
          if (typeof loss !== 'number' || !Number.isFinite(loss)) throw new BadRequestError('loss must be a finite number')
          coord.reportLoss(peerId, intOf(body, 'microbatch')!, loss)
          sendJson(res, 200, { ok: true })
          break
        }
        case 'spotcommit': {
          if (body.weightsDigest !== null && (typeof body.weightsDigest !== 'string' || !/^[0-9a-f]{64}$/.test(body.weightsDigest))) throw new BadRequestError('weightsDigest must be a sha256 hex digest or null')
          if (typeof body.root !== 'string' || !/^[0-9a-f]{64}$/.test(body.root)) throw new BadRequestError('root must be a sha256 hex digest')
          const numel = intOf(body, 'numel')!
          if (numel < 1 || numel > 2 ** 31) throw new BadRequestError('numel must be 1..2^31')
          const stage = onOwnStage(body)
          const audit = await auditFor(id, manifest)
          sendJson(res, 200, audit.commit(peerId, { microbatch: intOf(body, 'microbatch')!, stage, step: intOf(body, 'step')!, weightsDigest: body.weightsDigest, root: body.root, numel }))
          break
        }
        case 'spotcheck': {
          const stage = onOwnStage(body)
          const mb = intOf(body, 'microbatch')!
          const address = init.bindings?.addressOf(peerId)
          log(`spotcheck ${id.slice(0, 8)} mb ${mb} stage ${stage} from ${peerId.slice(-8)}`)
          const verdicts = (await auditFor(id, manifest)).open(peerId, mb, stage, body.proofs, address)
          await exclude(id, coord, verdicts.filter(v => v.verdict === 'flagged').map(v => v.peerId))
          sendJson(res, 200, { verdicts })
          break
        }
        case 'report': {
          const offender = body.offender
          if (typeof offender !== 'string' || !PEER_ID.test(offender)) throw new BadRequestError('offender must be a base58 libp2p PeerId')
          if (!(PEER_REPORT_REASONS as readonly unknown[]).includes(body.reason)) throw new BadRequestError(`reason must be one of ${PEER_REPORT_REASONS.join(', ')}`)
          if (coord.tab(peerId) == null) throw new UnknownTabError(`${peerId} has not joined this campaign`)
          let pr = reports.get(id)
          if (pr == null) { pr = new PeerReports(); reports.set(id, pr) }
          const n = pr.record(peerId, offender, body.reason as PeerReportReason)
          log.info(`report ${id.slice(0, 8)}: ${peerId.slice(-8)} disconnected ${offender.slice(-8)} (${String(body.reason)}; ${n} reporter${n === 1 ? '' : 's'})`)
          sendJson(res, 200, { ok: true })
          break
        }
        case 'evalloss': {
          // Shown, never credited: only a last-stage replica speaks, for a step that evaluates and has opened.
          if ((manifest.dataset.validation_tokens ?? 0) === 0) throw new HttpError(409, 'this campaign holds out no validation tokens')
          const step = intOf(body, 'step')!
          const batch = intOf(body, 'batch')!
          const loss = body.loss
          if (!evaluatesAfter(step, manifest.training.steps)) throw new BadRequestError(`step ${step} is not evaluated (every ${evalEvery(manifest.training.steps)} steps, the first and the last)`)
          if (step > coord.step) throw new BadRequestError(`step ${step} has not been reached (the tracker is at ${coord.step})`)
          if (batch >= VALIDATION_BATCHES) throw new BadRequestError(`batch must be below ${VALIDATION_BATCHES}`)
          if (typeof loss !== 'number' || !Number.isFinite(loss) || loss < 0) throw new BadRequestError('loss must be a finite non-negative number')
          const tab = coord.tab(peerId)
          if (tab == null) throw new UnknownTabError(`${peerId} has not joined this campaign`)
          if (tab.stage !== manifest.stages - 1) throw new ForbiddenError(`${peerId} trains stage ${tab.stage}: only the last stage reports validation loss`)
          let book = validation.get(id)
          if (book == null) { book = new ValidationBook(VALIDATION_BATCHES); validation.set(id, book) }
          book.record(step, batch, loss)
          sendJson(res, 200, { ok: true })
          break
        }
        case 'leave':
          coord.leave(peerId)
          sendJson(res, 200, { ok: true })
          break
      }
    } catch (err) {
      if (err instanceof UnknownTabError) throw new HttpError(409, err.message)
      if (err instanceof NotStageZeroError) throw new HttpError(409, err.message)
      if (err instanceof NotLeaseHolderError) throw new ForbiddenError(err.message)
      throw err
    } finally {
      // Readers see a change at once; heartbeat stats and in-flight counts may lag a second.
      if (action !== 'heartbeat' && action !== 'lease' && action !== 'release') init.snapshots?.invalidate(id)
    }
    return true
  }

  // The campaign page asks too: after a restart it shows the rebuilt step, not 0.
  const coordinator = (id: string): Coordinator | undefined => coordinators.get(id) ?? (init.campaigns.get(id) != null ? coordinatorFor(id).coord : undefined)
  return { handle, coordinator, spotChecks: id => checks.get(id), spotAudit: id => audits.get(id)?.audit, peerReports: id => reports.get(id) }
}
