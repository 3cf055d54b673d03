// Node only: one campaign's ledger as an append-only JSON-lines file of hash-chained records
// (src/ledger/hash-chain.ts). An entry counts as committed once it is fsynced:
//  - `commit()` (the tracker's path) queues the line and resolves after the batch holding it is
//    written and fsynced off the event loop; entries that arrive during a write form the next
//    batch, so a busy tracker pays one fsync per batch, not per entry;
//  - `append()` writes and fsyncs synchronously (tools and tests); it refuses to run while a
//    batch is queued, so the file never holds lines out of chain order.
// Both refuse a microbatch already credited or queued (DuplicateEntryError): its id is reserved
// before the write, released if the write fails, and loaded from the file on open.
// Readers (length, get, slice, proofs, ownership) see committed entries only.
//
// On open the whole chain is verified. A complete line that does not verify (edited, deleted
// or reordered) makes open() throw LedgerTamperedError naming the first bad line: the tracker
// refuses to run on it, since guessing which lines to trust would rewrite people's credit.
// A last line without its '\n' is a torn write from a crash mid-append: that entry was never
// acknowledged, so the store truncates the file back to the last '\n' and keeps every
// committed entry (`repairedBytes` says how much was cut).
import { closeSync, fdatasync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, write, writeSync } from 'node:fs'
import { promisify } from 'node:util'
import { dirname } from 'node:path'
import type { PrivateKey } from '@libp2p/interface'
import { ENTRIES_PER_EPOCH, MAX_ENTRY_BYTES } from '../ledger/constants.ts'
import { LedgerRangeError, LedgerTamperedError, MalformedEntryError } from '../ledger/errors.ts'
import { checkRecordLine, nextRecord, recordLine, type ChainRecord, type LedgerEntry } from '../ledger/hash-chain.ts'
import { CreditedSet } from '../ledger/credited-set.ts'
import { merkleProof, merkleRoot, signEpochRoot, type EpochRoot, type MerkleProof, type SignedEpochRoot } from '../ledger/merkle.ts'

export interface LedgerStoreInit {
  /** The ledger file, e.g. `<data dir>/ledger/<campaign>.jsonl` (see ledgerPath). */
  path: string
  /** Campaign id: every entry must carry it. */
  campaign: string
  /**
   * Records per epoch (one Merkle root each).
   * @default ENTRIES_PER_EPOCH
   */
  entriesPerEpoch?: number
}

export interface EntryProof {
  record: ChainRecord
  epoch: EpochRoot
  /** Proof that record.hash is leaf `record.index - epoch.first` under epoch.root. */
  proof: MerkleProof
}

export interface LedgerStore {
  readonly path: string
  /** Records in the ledger. */
  readonly length: number
  /** Hash of the last record; undefined while the ledger is empty. */
  readonly head: string | undefined
  /** Bytes of a torn last line cut off on open (0 if the file was clean). */
  readonly repairedBytes: number
  /** Appends, fsyncs and returns the committed record, blocking. Throws MalformedEntryError, or DuplicateEntryError for a microbatch already credited. */
  append(entry: LedgerEntry): ChainRecord
  /**
   * Queues the entry behind those already queued (chain order is call order) and resolves once
   * it is on disk, written with its batch in one write and one fsync. Bad entries and
   * microbatches already credited or queued (DuplicateEntryError) reject at once.
   */
  commit(entry: LedgerEntry): Promise<ChainRecord>
  /** Resolves when everything queued so far is on disk. */
  flush(): Promise<void>
  /** Entries queued and not yet on disk. */
  readonly pending: number
  /** Batches written by commit() so far (each one write and one fsync). */
  readonly batches: number
  /** Whether an entry credits this microbatch (or is being written to). */
  has(microbatch: number): boolean
  get(index: number): ChainRecord
  /** Records [start, end), clamped to the ledger. */
  slice(start: number, end?: number): ChainRecord[]
  /** All entries, oldest first (for ownership). */
  entries(): IterableIterator<LedgerEntry>
  epochOf(index: number): number
  /** Root of an epoch's records so far. */
  epochRoot(epoch: number): EpochRoot
  signedEpochRoot(epoch: number, key: PrivateKey): Promise<SignedEpochRoot>
  /** Inclusion proof of a record in its epoch's current root. */
  proof(index: number): EntryProof
  close(): void
}

/** `<dataDir>/ledger/<campaign>.jsonl`; refuses ids that could escape the folder. */
export function ledgerPath (dataDir: string, campaign: string): string {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(campaign)) throw new MalformedEntryError(`campaign id ${JSON.stringify(campaign.slice(0, 64))} is not filename-safe`)
  return `${dataDir}/ledger/${campaign}.jsonl`
}

export function openLedgerStore (init: LedgerStoreInit): LedgerStore {
  const { path, campaign } = init
  const perEpoch = init.entriesPerEpoch ?? ENTRIES_PER_EPOCH
  mkdirSync(dirname(path), { recursive: true })
  const fd = openSync(path, 'a+')
  const records: ChainRecord[] = []
  const credited = new CreditedSet()
  let repairedBytes = 0

  try {
    const buf = readFileSync(fd)
    const end = buf.lastIndexOf(0x0a) + 1
    const lines = buf.subarray(0, end).toString('utf8').split('\n').slice(0, -1)
    lines.forEach((line, i) => {
      const r = checkRecordLine(line, records.at(-1))
      if (typeof r === 'string') throw new LedgerTamperedError(i + 1, r, path)
      if (r.entry.campaign !== campaign) throw new LedgerTamperedError(i + 1, `entry of campaign ${r.entry.campaign}, not ${campaign}`, path)
      const twice = credited.load(r.entry.microbatch, i)
      if (twice != null) throw new LedgerTamperedError(i + 1, twice, path)
      records.push(r)
    })
    if (end < buf.length) {
      repairedBytes = buf.length - end
      ftruncateSync(fd, end)
      fsyncSync(fd)
    }
  } catch (err) {
    closeSync(fd)
    throw err
  }

  const epochRecords = (epoch: number): ChainRecord[] => {
    if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch * perEpoch >= Math.max(records.length, 1)) {
      throw new LedgerRangeError(`no epoch ${epoch}`)
    }
    return records.slice(epoch * perEpoch, (epoch + 1) * perEpoch)
  }
  const epochRoot = (epoch: number): EpochRoot => {
    const recs = epochRecords(epoch)
    return { campaign, epoch, first: epoch * perEpoch, count: recs.length, root: merkleRoot(recs.map(r => r.hash)) }
  }
  const get = (index: number): ChainRecord => {
    const r = Number.isSafeInteger(index) ? records[index] : undefined
    if (r == null) throw new LedgerRangeError(`no ledger entry ${index}`)
    return r
  }

  // ---- batched commits
  interface Queued { record: ChainRecord, line: Buffer, resolve: (r: ChainRecord) => void, reject: (e: unknown) => void }
  let queue: Queued[] = []
  /** The batch being written now. */
  let inflight: Queued[] = []
  let writing: Promise<void> | undefined
  let closed = false
  let batches = 0
  const writeAsync = promisify(write)
  const datasyncAsync = promisify(fdatasync)
  /** The chain continues from the last queued record, else the last committed one. */
  const tail = (): ChainRecord | undefined => queue.at(-1)?.record ?? inflight.at(-1)?.record ?? records.at(-1)

  const prepare = (entry: LedgerEntry): { record: ChainRecord, line: Buffer } => {
    const record = nextRecord(tail(), entry)
    if (record.entry.campaign !== campaign) throw new MalformedEntryError(`entry is for campaign ${record.entry.campaign}, this ledger is ${campaign}`)
    const line = Buffer.from(recordLine(record) + '\n', 'utf8')
    if (line.length > MAX_ENTRY_BYTES) throw new MalformedEntryError(`entry is longer than ${MAX_ENTRY_BYTES} bytes`)
    // Last, so nothing above can throw with the id held: append and commit release it on failure.
    credited.reserve(record.entry.microbatch)
    return { record, line }
  }

  async function writeBatches (): Promise<void> {
    while (queue.length > 0 && !closed) {
      const batch = queue
      inflight = batch
      queue = []
      const bytes = Buffer.concat(batch.map(q => q.line))
      const before = fstatSync(fd).size
      try {
        // One write per batch: a crash leaves at most a torn tail without '\n', repaired on open.
        let at = 0
        while (at < bytes.length) at += (await writeAsync(fd, bytes, at, bytes.length - at)).bytesWritten
        await datasyncAsync(fd)
        batches++
      } catch (err) {
        try { ftruncateSync(fd, before) } catch {}
        // Entries queued behind the failed batch chain onto it: they fail with it.
        for (const q of [...batch, ...queue]) { credited.release(q.record.entry.microbatch); q.reject(err) }
        queue = []
        inflight = []
        continue
      }
      for (const q of batch) { records.push(q.record); credited.commit(q.record.entry.microbatch, q.record.index); q.resolve(q.record) }
      inflight = []
    }
  }

  return {
    path,
    get length () { return records.length },
    get head () { return records.at(-1)?.hash },
    get pending () { return queue.length },
    get batches () { return batches },
    repairedBytes,
    commit (entry) {
      if (closed) return Promise.reject(new MalformedEntryError('the ledger is closed'))
      let prepared: { record: ChainRecord, line: Buffer }
      try { prepared = prepare(entry) } catch (err) { return Promise.reject(err) }
      const done = new Promise<ChainRecord>((resolve, reject) => { queue.push({ ...prepared, resolve, reject }) })
      writing ??= writeBatches().finally(() => { writing = undefined })
      return done
    },
    async flush () {
      while (writing != null) await writing
    },
    append (entry) {
      if (queue.length > 0 || writing != null) throw new MalformedEntryError('append() while commits are queued would reorder the file; await flush() first')
      const { record, line } = prepare(entry)
      // One write of the whole line: a crash leaves at most a torn tail without '\n'.
      const before = fstatSync(fd).size
      try {
        let at = 0
        while (at < line.length) at += writeSync(fd, line, at)
        fsyncSync(fd)
      } catch (err) {
        // Leave no partial line behind for the next append to glue onto.
        try { ftruncateSync(fd, before) } catch {}
        credited.release(record.entry.microbatch)
        throw err
      }
      records.push(record)
      credited.commit(record.entry.microbatch, record.index)
      return record
    },
    has: mb => credited.has(mb),
    get,
    slice (start, end) {
      return records.slice(Math.max(0, start), end)
    },
    * entries () {
      for (const r of records) yield r.entry
    },
    epochOf (index) {
      return Math.floor(get(index).index / perEpoch)
    },
    epochRoot,
    async signedEpochRoot (epoch, key) {
      return await signEpochRoot(epochRoot(epoch), key)
    },
    proof (index) {
      const record = get(index)
      const epoch = Math.floor(index / perEpoch)
      const leaves = epochRecords(epoch).map(r => r.hash)
      return { record, epoch: epochRoot(epoch), proof: merkleProof(leaves, index - epoch * perEpoch) }
    },
    close () {
      // What is still queued is written synchronously, after any batch in flight: nothing
      // queued is dropped, and the descriptor is not closed under a pending write.
      closed = true
      const finish = (): void => {
        const rest = queue
        queue = []
        if (rest.length > 0) {
          try {
            const bytes = Buffer.concat(rest.map(q => q.line))
            let at = 0
            while (at < bytes.length) at += writeSync(fd, bytes, at)
            fsyncSync(fd)
            for (const q of rest) { records.push(q.record); credited.commit(q.record.entry.microbatch, q.record.index); q.resolve(q.record) }
          } catch (err) {
            for (const q of rest) { credited.release(q.record.entry.microbatch); q.reject(err) }
          }
        }
        closeSync(fd)
      }
      if (writing != null) void writing.finally(finish)
      else finish()
    }
  }
}
