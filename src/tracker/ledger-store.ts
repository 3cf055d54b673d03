// Node only: one campaign's ledger as an append-only JSON-lines file of hash-chained records
// (src/ledger/hash-chain.ts). Every append is written in one write() and fsynced before it
// returns, so an entry counts as committed once append() has returned.
//
// On open the whole chain is verified. A complete line that does not verify (edited, deleted
// or reordered) makes open() throw LedgerTamperedError naming the first bad line: the tracker
// refuses to run on it, since guessing which lines to trust would rewrite people's credit.
// A last line without its '\n' is a torn write from a crash mid-append: that entry was never
// acknowledged, so the store truncates the file back to the last '\n' and keeps every
// committed entry (`repairedBytes` says how much was cut).
import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs'
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
  /** Appends, fsyncs and returns the committed record. Throws MalformedEntryError, or DuplicateEntryError for a microbatch already credited. */
  append(entry: LedgerEntry): ChainRecord
  /** Whether an entry credits this microbatch. */
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

  return {
    path,
    get length () { return records.length },
    get head () { return records.at(-1)?.hash },
    repairedBytes,
    append (entry) {
      const record = nextRecord(records.at(-1), entry)
      if (record.entry.campaign !== campaign) throw new MalformedEntryError(`entry is for campaign ${record.entry.campaign}, this ledger is ${campaign}`)
      const line = Buffer.from(recordLine(record) + '\n', 'utf8')
      if (line.length > MAX_ENTRY_BYTES) throw new MalformedEntryError(`entry is longer than ${MAX_ENTRY_BYTES} bytes`)
      credited.reserve(record.entry.microbatch)
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
    close () { closeSync(fd) }
  }
}
