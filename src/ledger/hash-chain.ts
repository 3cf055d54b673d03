// The ledger's hash chain: each record carries its index, the previous record's hash and its
// own, so editing, deleting or reordering any committed line breaks the chain at that line.
// Pure (browser and Node); the file lives in src/tracker/ledger-store.ts.
import { canonicalJson, sha256Hex, taggedBytes } from './canonical.ts'
import { GENESIS_HASH, LEDGER_ENTRY_TAG, MAX_RECEIPTS_PER_ENTRY } from './constants.ts'
import { MalformedEntryError } from './errors.ts'
import type { SignedReceipt } from './receipt.ts'

/** A PeerId's share of one microbatch's work. */
export interface Credit {
  peerId: string
  flops: number
}

/** One completed microbatch, credited. */
export interface LedgerEntry {
  campaign: string
  microbatch: number
  credits: Credit[]
  /** The signed receipts of its hops (checked by the tracker before appending). */
  receipts: SignedReceipt[]
  /** When the tracker recorded it, ms since the epoch. */
  time: number
}

/** One line of the ledger file. */
export interface ChainRecord {
  /** 0-based position; also guards against reordering. */
  index: number
  prevHash: string
  /** sha256 of the tag + canonical JSON of {index, prevHash, entry}. */
  hash: string
  entry: LedgerEntry
}

const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0
const isFlops = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0

/** Checks an entry's shape (not its receipts' signatures: see receipt.ts verifyReceipt). */
export function parseLedgerEntry (value: unknown): LedgerEntry {
  const e = (value ?? {}) as Partial<LedgerEntry>
  const bad = (what: string): never => { throw new MalformedEntryError(`ledger entry: ${what}`) }
  if (typeof e.campaign !== 'string' || e.campaign.length === 0) bad('campaign must be a string')
  if (!isCount(e.microbatch)) bad('microbatch must be a non-negative integer')
  if (!Array.isArray(e.credits) || !e.credits.every(c => typeof c?.peerId === 'string' && isFlops(c.flops))) {
    bad('credits must be [{peerId, flops}]')
  }
  if (!Array.isArray(e.receipts) || e.receipts.length > MAX_RECEIPTS_PER_ENTRY) bad('receipts must be an array')
  if (typeof e.time !== 'number' || !Number.isFinite(e.time)) bad('time must be a number')
  const { campaign, microbatch, credits, receipts, time } = e as LedgerEntry
  return { campaign, microbatch, credits: credits.map(c => ({ peerId: c.peerId, flops: c.flops })), receipts, time }
}

export function recordHash (index: number, prevHash: string, entry: LedgerEntry): string {
  return sha256Hex(taggedBytes(LEDGER_ENTRY_TAG, { index, prevHash, entry }))
}

/** The record that follows `prev` (or starts the chain). */
export function nextRecord (prev: ChainRecord | undefined, entry: LedgerEntry): ChainRecord {
  const index = prev == null ? 0 : prev.index + 1
  const prevHash = prev?.hash ?? GENESIS_HASH
  const e = parseLedgerEntry(entry)
  return { index, prevHash, hash: recordHash(index, prevHash, e), entry: e }
}

/** The line written for a record (no newline). */
export function recordLine (record: ChainRecord): string {
  return canonicalJson(record)
}

/**
 * Parses and checks one line against its predecessor; returns the record or why it is bad.
 * Used on open, for every line in order.
 */
export function checkRecordLine (line: string, prev: ChainRecord | undefined): ChainRecord | string {
  let r: ChainRecord
  try {
    r = JSON.parse(line) as ChainRecord
  } catch {
    return 'not JSON'
  }
  const index = prev == null ? 0 : prev.index + 1
  if (r?.index !== index) return `index is ${String(r?.index)}, expected ${index} (line deleted or moved)`
  if (r.prevHash !== (prev?.hash ?? GENESIS_HASH)) return 'prevHash does not match the previous line (line deleted or moved)'
  try {
    parseLedgerEntry(r.entry)
  } catch (err) {
    return (err as Error).message
  }
  if (recordHash(r.index, r.prevHash, r.entry) !== r.hash) return 'hash does not match the content (line edited)'
  return r
}
