// Per-campaign ledgers on the tracker: credits a completed microbatch from its signed receipts,
// and serves the ledger, inclusion proofs and ownership.
//
// Credit is computed here, never claimed: the receipts only establish which PeerId ran which
// stage of the microbatch (both ends of each hop signed it); each of those peers is credited
// its stage's FLOPs from the manifest (model/config.ts stageFlops).
import type { IncomingMessage, ServerResponse } from 'node:http'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import { openLedgerStore, ledgerPath, type LedgerStore } from './ledger-store.ts'
import { sendJson } from './http-util.ts'
import { BadRequestError, MethodNotAllowedError, NotFoundError } from './errors.ts'
import { DuplicateEntryError } from '../ledger/errors.ts'
import type { CampaignStore } from './campaign-store.ts'
import type { Bindings } from '../identity/bindings.ts'
import { verifyMicrobatchReceipts, type SignedReceipt } from '../ledger/receipt.ts'
import { computeOwnership } from '../ledger/ownership.ts'
import type { Credit } from '../ledger/hash-chain.ts'
import type { ChainRecord } from '../ledger/hash-chain.ts'
import { splitStages, stageFlops } from '../model/config.ts'
import type { CampaignManifest } from '../campaign/manifest.ts'

export interface CampaignLedgersInit {
  dataDir: string
  campaigns: CampaignStore
  bindings: Bindings
  /** The tracker's key, which signs epoch roots. */
  trackerKey: PrivateKey
}

export class RouteMismatchError extends BadRequestError {
  override name = 'RouteMismatchError'
}

/** FLOPs each stage is credited per microbatch, and what each hop's receipt must state. */
export function creditTable (m: CampaignManifest): Array<{ forward: number, backward: number, total: number }> {
  return splitStages(m.model, m.stages).map(r => stageFlops(m.model, r, m.training.microbatch, m.training.seq_len))
}

/**
 * Checks that the receipts form one route stage 0 → … → S-1 → … → 0 and returns the credits.
 * fwd receipts come from stages 0..S-2, bwd receipts from stages S-1..1. A fwd receipt states
 * its sender's forward FLOPs; a bwd receipt its sender's backward FLOPs (the last stage's also
 * include its forward, which it never hands over). Stage 0's backward needs no receipt: the
 * completion report is its own.
 */
export function routeCredits (m: CampaignManifest, completer: string, receipts: readonly SignedReceipt[]): Credit[] {
  const S = m.stages
  const table = creditTable(m)
  const fwd = new Map<number, SignedReceipt['receipt']>()
  const bwd = new Map<number, SignedReceipt['receipt']>()
  for (const { receipt: r } of receipts) {
    const into = r.direction === 'fwd' ? fwd : bwd
    if (into.has(r.stage)) throw new RouteMismatchError(`two ${r.direction} receipts for stage ${r.stage}`)
    into.set(r.stage, r)
  }
  const peers: string[] = [completer]
  for (let s = 0; s < S - 1; s++) {
    const f = fwd.get(s)
    if (f == null) throw new RouteMismatchError(`missing the fwd receipt of stage ${s}`)
    if (f.from !== peers[s]) throw new RouteMismatchError(`the fwd receipt of stage ${s} is from ${f.from}, not the route's ${peers[s]}`)
    if (f.flops !== table[s].forward) throw new RouteMismatchError(`the fwd receipt of stage ${s} states ${f.flops} FLOPs, not ${table[s].forward}`)
    peers.push(f.to)
  }
  for (let s = S - 1; s >= 1; s--) {
    const b = bwd.get(s)
    if (b == null) throw new RouteMismatchError(`missing the bwd receipt of stage ${s}`)
    if (b.from !== peers[s] || b.to !== peers[s - 1]) throw new RouteMismatchError(`the bwd receipt of stage ${s} does not retrace the forward route`)
    const want = table[s].backward + (s === S - 1 ? table[s].forward : 0)
    if (b.flops !== want) throw new RouteMismatchError(`the bwd receipt of stage ${s} states ${b.flops} FLOPs, not ${want}`)
  }
  if (fwd.size !== S - 1 || bwd.size !== S - 1) throw new RouteMismatchError('receipts for stages outside the campaign')
  return peers.map((peerId, s) => ({ peerId, flops: table[s].total }))
}

/** A ledger that does not verify at start: the tracker refuses to run on it (a human must look). */
export class LedgerStartError extends Error {
  override name = 'LedgerStartError'
  constructor (readonly campaign: string, override readonly cause: unknown) {
    super(`the ledger of campaign ${campaign} does not verify: ${(cause as Error).message}. The tracker will not run on a ledger it cannot trust; restore it from a backup or move it out of the data directory`)
  }
}

export interface CampaignLedgers {
  /** Verifies receipts and the route; throws a 4xx error before anything is written. */
  check(campaignId: string, microbatch: number, completer: string, receipts: unknown): Promise<{ credits: Credit[], receipts: SignedReceipt[] }>
  /**
   * Appends a checked, first-time completion; resolves once it is fsynced (batched with others).
   * A microbatch already credited writes nothing and resolves to the entry that credits it.
   */
  append(campaignId: string, microbatch: number, checked: { credits: Credit[], receipts: SignedReceipt[] }): Promise<ChainRecord>
  /** Resolves when every queued append is on disk. */
  flush(): Promise<void>
  /** Whether the campaign's ledger already credits (or is writing) this microbatch. */
  has(campaignId: string, microbatch: number): boolean
  /**
   * Opens and verifies the ledger of every campaign (the tracker calls it at start). Throws
   * LedgerStartError naming the file, line and reason of the first one that does not verify.
   */
  openAll(): void
  /** Work of this peer is withheld from ownership (it failed or skipped spot checks). */
  withhold(campaignId: string, peerId: string): void
  isWithheld(campaignId: string, peerId: string): boolean
  /** Tells which of a peer's credited microbatches wait on a spot check (they stay out of its share until then). */
  pendWith(campaignId: string, isPending: (peerId: string, microbatch: number) => boolean): void
  handle(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<boolean>
  close(): void
}

export function createCampaignLedgers (init: CampaignLedgersInit): CampaignLedgers {
  const stores = new Map<string, LedgerStore>()
  const withheld = new Map<string, Set<string>>()
  const pending = new Map<string, (peerId: string, microbatch: number) => boolean>()
  mkdirSync(join(init.dataDir, 'ledger'), { recursive: true })

  function manifestOf (id: string): CampaignManifest {
    const rec = init.campaigns.get(id)
    if (rec == null) throw new NotFoundError(`no campaign ${id}`)
    return rec.manifest
  }

  function store (id: string): LedgerStore {
    manifestOf(id)
    let s = stores.get(id)
    if (s == null) {
      // Opening verifies the whole chain and refuses a tampered file.
      s = openLedgerStore({ path: ledgerPath(init.dataDir, id), campaign: id })
      stores.set(id, s)
    }
    return s
  }

  const isWithheld = (id: string, peerId: string): boolean => withheld.get(id)?.has(peerId) ?? false

  return {
    async check (id, microbatch, completer, receipts) {
      const m = manifestOf(id)
      if (!Array.isArray(receipts)) throw new BadRequestError('receipts must be an array')
      let signed: SignedReceipt[]
      try {
        signed = await verifyMicrobatchReceipts(id, microbatch, receipts)
      } catch (err) {
        throw new BadRequestError(`receipt rejected: ${(err as Error).message}`)
      }
      return { credits: routeCredits(m, completer, signed), receipts: signed }
    },
    async append (id, microbatch, checked) {
      const s = store(id)
      const entry = { campaign: id, microbatch, credits: checked.credits, receipts: checked.receipts, time: Date.now() }
      for (let tries = 0; ; tries++) {
        try {
          return await s.commit(entry)
        } catch (err) {
          // Already credited (a retried completion, or a restarted tracker that forgot its done
          // set): nothing is written, and the entry that credits it stands.
          if (!(err instanceof DuplicateEntryError)) throw err
          if (err.index != null) return s.get(err.index)
          // Its first entry is still being written: once that lands (or fails, freeing the id),
          // ask again.
          if (tries > 0) throw err
          await s.flush()
        }
      }
    },
    has: (id, microbatch) => store(id).has(microbatch),
    openAll () {
      for (const rec of init.campaigns.list()) {
        try {
          store(rec.id)
        } catch (err) {
          throw new LedgerStartError(rec.id, err)
        }
      }
    },
    withhold (id, peerId) {
      let s = withheld.get(id)
      if (s == null) { s = new Set(); withheld.set(id, s) }
      s.add(peerId)
    },
    isWithheld,
    pendWith (id, isPending) { pending.set(id, isPending) },
    async handle (req, res, path, query) {
      const m = /^\/api\/campaigns\/([0-9a-f]{32})\/(ledger|ownership|ledger\/proof\/(\d+))$/.exec(path)
      if (m == null) return false
      if (req.method !== 'GET') throw new MethodNotAllowedError()
      const id = m[1]
      const s = store(id)
      if (m[2] === 'ownership') {
        sendJson(res, 200, computeOwnership(s.entries(), { addressOf: p => init.bindings.addressOf(p), isWithheld: (p, e) => isWithheld(id, p) || pending.get(id)?.(p, e.microbatch) === true }))
        return true
      }
      if (m[3] != null) {
        const index = Number(m[3])
        if (index >= s.length) throw new NotFoundError(`no ledger entry ${index} (the ledger has ${s.length})`)
        const p = s.proof(index)
        sendJson(res, 200, { record: p.record, proof: p.proof, epoch: await s.signedEpochRoot(p.epoch.epoch, init.trackerKey) })
        return true
      }
      const start = Number(query.get('start') ?? 0)
      const limit = Math.min(500, Number(query.get('limit') ?? 100))
      if (!Number.isInteger(start) || start < 0 || !Number.isInteger(limit) || limit < 1) throw new BadRequestError('start and limit must be non-negative integers (limit ≥ 1)')
      const epoch = s.length === 0 ? 0 : s.epochOf(s.length - 1)
      sendJson(res, 200, { root: await s.signedEpochRoot(epoch, init.trackerKey), epoch, length: s.length, entries: s.slice(start, start + limit) })
      return true
    },
    async flush () {
      await Promise.all([...stores.values()].map(async s => { await s.flush() }))
    },
    close () {
      for (const s of stores.values()) s.close()
    }
  }
}
