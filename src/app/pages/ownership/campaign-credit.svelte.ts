// One campaign as seen by this tab: the holder's share of verified FLOPs, the ledger records
// that credit this tab's PeerId, and for each an inclusion proof checked here in the browser
// against an epoch root signed by the tracker (DESIGN.md "Work receipts") — by the key the share
// link pinned when there is one — and the receipts this browser kept, compared with the ledger.
import { recordHash, type ChainRecord } from '../../../ledger/hash-chain.ts'
import { verifyEpochRoot, verifyEpochRootPinned, verifyInclusion, type MerkleProof, type SignedEpochRoot } from '../../../ledger/merkle.ts'
import { checkPin, type PinCheck } from '../../state/tracker-pin.ts'
import { ReceiptLedgerCheck, type ReceiptComparison } from '../../receipts/ledger-check.ts'
import type { KeptReceipt } from '../../receipts/kept-receipt.ts'
import type { Holder, Ownership } from '../../../ledger/ownership.ts'

/** The tracker serves at most 500 ledger records per page (campaign-ledgers.ts). */
const LEDGER_PAGE = 500
/** Proofs fetched at once: enough to hide latency, few enough not to crowd a training tab's requests. */
const PROOF_CONCURRENCY = 4
/** A record's problem when its root is not signed by the pinned key (the card says PIN_MISMATCH). */
export const PIN_MISMATCH_SHORT = 'the epoch root is not signed by the tracker key in your link'

export type ProofStatus = 'pending' | 'verified' | 'failed'

export interface CreditedRecord {
  index: number
  microbatch: number
  /** FLOPs credited to this tab's PeerId in this record. */
  flops: number
  time: number
  status: ProofStatus
  /** Why the check failed. */
  problem?: string
  record: ChainRecord
  proof?: MerkleProof
  epoch?: SignedEpochRoot
}

interface LedgerPage {
  length: number
  entries: ChainRecord[]
}

interface ProofBody {
  record: ChainRecord
  proof: MerkleProof
  epoch: SignedEpochRoot
}

async function getJson<T> (path: string, signal: AbortSignal): Promise<T> {
  const res = await fetch(path, { signal })
  const body = await res.json().catch(() => null) as (T & { error?: string }) | null
  if (!res.ok || body == null) throw new Error(body?.error ?? `HTTP ${res.status}`)
  return body
}

export class CampaignCredit {
  /** This holder's row of `/ownership` (address once signed in, else the PeerId); null: none. */
  holder = $state.raw<Holder | null>(null)
  totalFlops = $state(0)
  records = $state.raw<CreditedRecord[]>([])
  loading = $state(false)
  error = $state<string | null>(null)
  /** The tracker's key against the share link's pin. */
  pin = $state.raw<PinCheck>({ status: 'unpinned' })
  /** This browser's kept receipts against the ledger; null: none given. */
  receipts = $state.raw<ReceiptComparison | null>(null)
  readonly #id: string
  get id (): string { return this.#id }
  #abort: AbortController | undefined

  constructor (id: string) { this.#id = id }

  get verified (): number { return this.records.filter(r => r.status === 'verified').length }
  get failed (): number { return this.records.filter(r => r.status === 'failed').length }
  get checking (): boolean { return this.records.some(r => r.status === 'pending') }

  /**
   * Reloads everything for `holder` (an address or a PeerId) and this tab's `peerId`. `tracker`
   * is the PeerId the server presents; `pin` the key the share link pinned (then roots must be
   * signed by that key, whatever the server says); `kept` this browser's receipts.
   */
  async load (holder: string, peerId: string, tracker: string, opts: { pin?: string | null, kept?: readonly KeptReceipt[] } = {}): Promise<void> {
    this.#abort?.abort()
    const abort = new AbortController()
    this.#abort = abort
    const signal = abort.signal
    this.loading = true
    this.error = null
    this.pin = checkPin(tracker, opts.pin ?? null)
    const check = opts.kept != null ? new ReceiptLedgerCheck(opts.kept) : null
    try {
      const own = await getJson<Ownership>(`/api/campaigns/${this.#id}/ownership`, signal)
      this.totalFlops = own.total_flops
      this.holder = own.holders.find(h => h.address.toLowerCase() === holder.toLowerCase()) ?? null
      this.records = await this.#creditedRecords(peerId, check, signal)
      this.receipts = check?.result(Date.now()) ?? null
      this.loading = false
      await this.#checkProofs(tracker, opts.pin ?? null, signal)
    } catch (err) {
      if (!signal.aborted) this.error = (err as Error).message
    } finally {
      if (this.#abort === abort) this.loading = false
    }
  }

  dispose (): void { this.#abort?.abort() }

  // The ledger API has no per-peer filter, so page through all of it.
  async #creditedRecords (peerId: string, check: ReceiptLedgerCheck | null, signal: AbortSignal): Promise<CreditedRecord[]> {
    const out: CreditedRecord[] = []
    let start = 0
    for (;;) {
      const page = await getJson<LedgerPage>(`/api/campaigns/${this.#id}/ledger?start=${start}&limit=${LEDGER_PAGE}`, signal)
      for (const record of page.entries) {
        check?.add(record.entry)
        const flops = record.entry.credits.filter(c => c.peerId === peerId).reduce((n, c) => n + c.flops, 0)
        if (flops > 0) out.push({ index: record.index, microbatch: record.entry.microbatch, flops, time: record.entry.time, status: 'pending', record })
      }
      start += page.entries.length
      if (page.entries.length === 0 || start >= page.length) return out
    }
  }

  async #checkProofs (tracker: string, pin: string | null, signal: AbortSignal): Promise<void> {
    const queue = [...this.records]
    const worker = async (): Promise<void> => {
      for (let r = queue.shift(); r != null; r = queue.shift()) {
        const checked = await this.#checkOne(r, tracker, pin, signal)
        if (signal.aborted) return
        this.records = this.records.map(x => x.index === checked.index ? checked : x)
      }
    }
    await Promise.all(Array.from({ length: PROOF_CONCURRENCY }, worker))
  }

  /**
   * The record the proof is about must be the one the ledger listed, its hash must match its
   * content, and that hash must be a leaf of an epoch root the tracker's own key signed: the key
   * the share link pinned, or else the one the server presents.
   */
  async #checkOne (r: CreditedRecord, tracker: string, pin: string | null, signal: AbortSignal): Promise<CreditedRecord> {
    const fail = (problem: string): CreditedRecord => ({ ...r, status: 'failed', problem })
    let body: ProofBody
    try {
      body = await getJson<ProofBody>(`/api/campaigns/${this.#id}/ledger/proof/${r.index}`, signal)
    } catch (err) {
      return fail(`no proof: ${(err as Error).message}`)
    }
    const { record, proof, epoch } = body
    const withProof = { ...r, proof, epoch }
    if (record.hash !== r.record.hash) return { ...withProof, status: 'failed', problem: 'the proof is for another record than the ledger listed' }
    if (recordHash(record.index, record.prevHash, record.entry) !== record.hash) return { ...withProof, status: 'failed', problem: 'the record hash does not match its content' }
    if (pin != null) {
      if (!await verifyEpochRootPinned(epoch, pin)) return { ...withProof, status: 'failed', problem: PIN_MISMATCH_SHORT }
    } else if (!await verifyEpochRoot(epoch, tracker)) return { ...withProof, status: 'failed', problem: 'the epoch root is not signed by this tracker' }
    if (!verifyInclusion(record.hash, proof, epoch)) return { ...withProof, status: 'failed', problem: 'the record is not in the signed epoch root' }
    return { ...withProof, status: 'verified' }
  }
}
