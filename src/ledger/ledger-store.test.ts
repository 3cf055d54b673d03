// Tests of src/tracker/ledger-store.ts (the Node file store of the hash-chained ledger).
import { afterEach, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { ledgerPath, openLedgerStore, type LedgerStore } from '../tracker/ledger-store.ts'
import { verifyEpochRoot, verifyInclusion } from './merkle.ts'
import type { LedgerEntry } from './hash-chain.ts'

const dirs: string[] = []
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })
const tmp = (): string => { const d = mkdtempSync(join(tmpdir(), 'tabgrad-ledger-')); dirs.push(d); return d }

const entry = (i: number): LedgerEntry =>
  ({ campaign: 'demo', microbatch: i, credits: [{ peerId: `tab${i % 3}`, flops: 100 * (i + 1) }], receipts: [], time: 1_700_000_000_000 + i })

function fill (n: number, perEpoch?: number): { path: string, store: LedgerStore } {
  const path = ledgerPath(tmp(), 'demo')
  const store = openLedgerStore({ path, campaign: 'demo', entriesPerEpoch: perEpoch })
  for (let i = 0; i < n; i++) store.append(entry(i))
  return { path, store }
}

function openError (path: string): { name: string, line?: number } {
  try {
    openLedgerStore({ path, campaign: 'demo' }).close()
    return { name: 'opened' }
  } catch (err) {
    return { name: (err as Error).name, line: (err as { line?: number }).line }
  }
}

const linesOf = (path: string): string[] => readFileSync(path, 'utf8').split('\n').slice(0, -1)
const writeLines = (path: string, lines: string[]): void => { writeFileSync(path, lines.map(l => l + '\n').join('')) }

describe('ledger store', () => {
  it('reopens with every entry and keeps appending to the same chain', () => {
    const { path, store } = fill(5)
    const head = store.head
    store.close()
    const again = openLedgerStore({ path, campaign: 'demo' })
    expect(again.length).toBe(5)
    expect(again.head).toBe(head)
    expect(again.append(entry(5)).prevHash).toBe(head)
    expect([...again.entries()].map(e => e.microbatch)).toEqual([0, 1, 2, 3, 4, 5])
    expect(() => again.append({ ...entry(6), campaign: 'other' })).toThrow(expect.objectContaining({ name: 'MalformedEntryError' }))
    expect(() => again.append({ ...entry(6), credits: [{ peerId: 'x', flops: -1 }] })).toThrow(expect.objectContaining({ name: 'MalformedEntryError' }))
    again.close()
  })

  it('refuses an edited line and names it', () => {
    const { path, store } = fill(6)
    store.close()
    const lines = linesOf(path)
    lines[3] = lines[3].replace('"flops":400', '"flops":400000')
    writeLines(path, lines)
    expect(openError(path)).toEqual({ name: 'LedgerTamperedError', line: 4 })
  })

  it('refuses a deleted line, naming the line after the gap', () => {
    const { path, store } = fill(6)
    store.close()
    const lines = linesOf(path)
    lines.splice(2, 1)
    writeLines(path, lines)
    expect(openError(path)).toEqual({ name: 'LedgerTamperedError', line: 3 })
  })

  it('refuses reordered lines', () => {
    const { path, store } = fill(6)
    store.close()
    const lines = linesOf(path);
    [lines[1], lines[4]] = [lines[4], lines[1]]
    writeLines(path, lines)
    expect(openError(path)).toEqual({ name: 'LedgerTamperedError', line: 2 })
  })

  it('truncates a torn last line and keeps every committed entry', () => {
    const { path, store } = fill(4)
    store.close()
    const full = linesOf(path)
    // What a crash in the middle of the fifth append leaves: half a line, no '\n'.
    const torn = fill(5).store
    const fifth = linesOf(torn.path)[4]
    torn.close()
    appendFileSync(path, fifth.slice(0, fifth.length >> 1))
    const again = openLedgerStore({ path, campaign: 'demo' })
    expect(again.repairedBytes).toBe(fifth.length >> 1)
    expect(again.length).toBe(4)
    again.append(entry(4))
    again.close()
    expect(linesOf(path).slice(0, 4)).toEqual(full)
    const reopened = openLedgerStore({ path, campaign: 'demo' })
    expect(reopened.length).toBe(5)
    reopened.close()
  })

  it('loses no acknowledged entry when the writer is killed mid-append', async () => {
    const path = ledgerPath(tmp(), 'demo')
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/append-child.ts', import.meta.url)), path], { stdio: ['ignore', 'pipe', 'inherit'] })
    let acked = -1
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject)
      child.on('exit', () => { resolve() })
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        for (const m of chunk.matchAll(/acked (\d+)/g)) acked = Number(m[1])
        if (acked >= 50) child.kill('SIGKILL')
      })
    })
    expect(acked).toBeGreaterThanOrEqual(50)
    const store = openLedgerStore({ path, campaign: 'demo' })
    expect(store.length).toBeGreaterThan(acked)
    expect(store.get(acked).entry.microbatch).toBe(acked)
    store.close()
  })

  it('serves inclusion proofs under a signed epoch root', async () => {
    const key = await generateKeyPair('Ed25519')
    const { store } = fill(11, 4)
    expect(store.epochOf(9)).toBe(2)
    for (let i = 0; i < 11; i++) {
      const { record, epoch, proof } = store.proof(i)
      expect(verifyInclusion(record.hash, proof, epoch), String(i)).toBe(true)
    }
    const signed = await store.signedEpochRoot(2, key)
    expect(signed.count).toBe(3)
    expect(await verifyEpochRoot(signed, peerIdFromPrivateKey(key).toString())).toBe(true)
    expect(() => store.epochRoot(3)).toThrow(expect.objectContaining({ name: 'LedgerRangeError' }))
    expect(() => store.proof(11)).toThrow(expect.objectContaining({ name: 'LedgerRangeError' }))
    store.close()
  })
})
