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
import { MAX_LEASE_WINDOW, PEER_REPORT_REASONS, type CompleteReply, type PeerReportReason } from '../../protocol/swarm.ts'
import { PeerReports } from './peer-reports.ts'
import type { Reachability } from '../reachability.ts'
import { swarmSettingsOf } from '../../campaign/swarm-settings.ts'
import { SpotChecks } from '../../ledger/spot-checks.ts'
import type { Bindings } from '../../identity/bindings.ts'
import { parseHeartbeatStats } from '../heartbeat-stats.ts'
import { createLogger } from '../../log.ts'

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
}

export interface SwarmRoutes {
  /** Handles the request if it is a swarm route; returns false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean>
  coordinator(campaignId: string): Coordinator | undefined
  spotChecks(campaignId: string): SpotChecks | undefined
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
      if (ledgers != null) coord.restoreDone(mb => ledgers.has(id, mb))
      for (const p of state.load(id).excluded) coord.exclude(p)
      coordinators.set(id, coord)
    }
    return { coord, manifest: rec.manifest }
  }

  async function handle (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    const m = /^\/api\/campaigns\/([0-9a-f]{32})\/(join|heartbeat|lease|complete|release|loss|leave|spotcheck|report|swarm)$/.exec(path)
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
        return status
      }
      sendJsonCached(req, res, init.snapshots != null ? init.snapshots.get(`${id}/swarm?${since}`, build) : build())
      return true
    }
    if (req.method !== 'POST') throw new MethodNotAllowedError()
    const raw = await readJsonBody(req)
    if (typeof raw !== 'object' || raw == null || Array.isArray(raw)) throw new BadRequestError('body must be a JSON object')
    const body = raw as Record<string, unknown>
    const caller = await auth.authenticate(req, path, body)
    const peerId = peerIdOf(body)
    if (peerId !== caller) throw new ForbiddenError('the call is signed by another peer than the body\'s peerId')
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
          const tab = coord.heartbeat(peerId, parseHeartbeatStats(body.stats))
          sendJson(res, 200, { stage: tab.stage, step: coord.step, done: coord.done, replicas: coord.replicas(tab.stage), next: tab.stage + 1 < manifest.stages ? reachableFrom(peerId, coord.replicas(tab.stage + 1)) : [], prev: tab.stage > 0 ? coord.replicas(tab.stage - 1) : [], excluded: coord.isExcluded(peerId) })
          break
        }
        case 'lease':
          sendJson(res, 200, coord.lease(peerId, Math.min(MAX_LEASE_WINDOW, intOf(body, 'max', true) ?? 1)))
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
          }
          const credited = coord.complete(peerId, mb, loss)
          const window = Math.min(MAX_LEASE_WINDOW, intOf(body, 'window', true) ?? 0)
          const next = window > 0 ? coord.lease(peerId, window) : { step: coord.step, leases: [] }
          const reply: CompleteReply = { credited, ...next }
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
        case 'spotcheck': {
          const sample = body.sample
          if (!Array.isArray(sample) || sample.length === 0 || sample.length > 256 || !sample.every(x => typeof x === 'number')) throw new BadRequestError('sample must be 1..256 numbers')
          if (typeof body.weightsDigest !== 'string' || !/^[0-9a-f]{64}$/.test(body.weightsDigest)) throw new BadRequestError('weightsDigest must be a sha256 hex digest')
          const stage = intOf(body, 'stage')!
          // Only a replica of the checked stage votes on it.
          const tab = coord.tab(peerId)
          if (tab == null) throw new UnknownTabError(`${peerId} has not joined this campaign`)
          if (tab.stage !== stage) throw new ForbiddenError(`${peerId} trains stage ${tab.stage}, not ${stage}: only replicas of the checked stage vote on it`)
          coord.heartbeat(peerId)
          const address = init.bindings?.addressOf(peerId)
          let sc = checks.get(id)
          if (sc == null) { sc = new SpotChecks(); checks.set(id, sc) }
          log(`spotcheck ${id.slice(0, 8)} mb ${String(body.microbatch)} stage ${String(body.stage)} step ${String(body.step)} from ${peerId.slice(-8)} weights ${body.weightsDigest.slice(0, 8)}`)
          const verdicts = sc.report({ peerId, microbatch: intOf(body, 'microbatch')!, stage, step: intOf(body, 'step')!, weightsDigest: body.weightsDigest, sample: sample as number[], ...(address != null ? { address } : {}) })
          let flagged = false
          for (const v of verdicts) {
            if (v.verdict !== 'flagged') continue
            coord.exclude(v.peerId)
            init.ledgers?.withhold(id, v.peerId)
            flagged = true
          }
          // Durable before the reply: a restart must not hand a flagged peer its share back.
          if (flagged) await state.save(id, { version: 1, excluded: coord.excludedPeers() })
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
  return { handle, coordinator, spotChecks: id => checks.get(id), peerReports: id => reports.get(id) }
}
