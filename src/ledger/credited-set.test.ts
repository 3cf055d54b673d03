// A microbatch is credited once in a campaign's life: the ledger store refuses a second entry
// for it (nothing is written), and a file that holds one is refused on open.
import { afterEach, describe, expect, it } from 'vitest'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ledgerPath, openLedgerStore } from '../tracker/ledger-store.ts'
import { nextRecord, recordLine, type ChainRecord, type LedgerEntry } from './hash-chain.ts'
import { CreditedSet } from './credited-set.ts'

const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })
const tmp = (): string => { const d = mkdtempSync(join(tmpdir(), 'tabgrad-credited-')); dirs.push(d); return d }
const entry = (mb: number, peerId = 'tabA'): LedgerEntry => ({ campaign: 'demo', microbatch: mb, credits: [{ peerId, flops: 100 }], receipts: [], time: 1_700_000_000_000 + mb })

describe('credited set', () => {
  it('reserves, commits and releases ids', () => {
    const s = new CreditedSet()
    s.reserve(3)
    expect(() => s.reserve(3)).toThrow(expect.objectContaining({ name: 'DuplicateEntryError', status: 409 }))
    s.release(3)
    s.reserve(3)
    s.commit(3, 7)
    expect(s.indexOf(3)).toBe(7)
    s.release(3) // a committed id stays credited
    expect(s.has(3)).toBe(true)
    expect(s.load(4, 0)).toBeUndefined()
    expect(s.load(4, 1)).toMatch(/credited twice \(first at line 1\)/)
  })
})

describe('ledger store: no double credit', () => {
  it('refuses a second entry for a microbatch, even from another peer, and writes nothing', () => {
    const path = ledgerPath(tmp(), 'demo')
    const store = openLedgerStore({ path, campaign: 'demo' })
    store.append(entry(0))
    store.append(entry(1))
    const size = statSync(path).size
    expect(() => store.append(entry(1, 'thief'))).toThrow(expect.objectContaining({ name: 'DuplicateEntryError', microbatch: 1, index: 1 }))
    expect(statSync(path).size).toBe(size)
    expect(store.length).toBe(2)
    expect(store.has(1)).toBe(true)
    expect(store.has(2)).toBe(false)
    store.close()
    // After a restart the store still knows what it credited.
    const again = openLedgerStore({ path, campaign: 'demo' })
    expect(() => again.append(entry(0))).toThrow(expect.objectContaining({ name: 'DuplicateEntryError' }))
    expect(again.append(entry(2)).index).toBe(2)
    again.close()
  })

  it('refuses to open a well-chained file that credits a microbatch twice, naming the line', () => {
    const path = ledgerPath(tmp(), 'demo')
    // A valid hash chain whose third line repeats microbatch 0: what a pre-fix tracker restart wrote.
    const records: ChainRecord[] = []
    for (const e of [entry(0), entry(1), entry(0, 'again')]) records.push(nextRecord(records.at(-1), e))
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, records.map(r => recordLine(r) + '\n').join(''))
    const before = readFileSync(path)
    expect(() => openLedgerStore({ path, campaign: 'demo' })).toThrow(expect.objectContaining({ name: 'LedgerTamperedError', line: 3 }))
    expect(readFileSync(path)).toEqual(before) // nothing repaired or rewritten
  })
})
