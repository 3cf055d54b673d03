// Batched ledger commits: one write and one fsync per batch, chain order kept, readers see only
// what is on disk, and an acknowledged commit survives a kill.
import { afterEach, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ledgerPath, openLedgerStore } from './ledger-store.ts'
import type { LedgerEntry } from '../ledger/hash-chain.ts'

const dirs: string[] = []
const tmp = (): string => { const d = mkdtempSync(join(tmpdir(), 'tabgrad-commit-')); dirs.push(d); return d }
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }) })
const entry = (i: number): LedgerEntry => ({ campaign: 'demo', microbatch: i, credits: [{ peerId: `tab${i % 3}`, flops: 1000 + i }], receipts: [], time: i })

describe('batched ledger commits', () => {
  it('writes many concurrent commits in few batches, in call order', async () => {
    const path = ledgerPath(tmp(), 'demo')
    const store = openLedgerStore({ path, campaign: 'demo' })
    const done = Array.from({ length: 200 }, async (_, i) => await store.commit(entry(i)))
    // Nothing is visible before it is on disk.
    expect(store.length).toBe(0)
    expect(store.pending).toBeGreaterThan(0)
    const records = await Promise.all(done)
    expect(records.map(r => r.index)).toEqual(Array.from({ length: 200 }, (_, i) => i))
    expect(store.length).toBe(200)
    expect(store.batches).toBeGreaterThanOrEqual(1)
    expect(store.batches).toBeLessThan(20)
    store.close()
    const again = openLedgerStore({ path, campaign: 'demo' })
    expect(again.length).toBe(200)
    expect(again.get(199).prevHash).toBe(again.get(198).hash)
    again.close()
  })

  it('refuses a bad entry at once without disturbing the queue, and a blocking append while queued', async () => {
    const store = openLedgerStore({ path: ledgerPath(tmp(), 'demo'), campaign: 'demo' })
    const first = store.commit(entry(0))
    await expect(store.commit({ ...entry(1), campaign: 'other' })).rejects.toMatchObject({ name: 'MalformedEntryError' })
    expect(() => store.append(entry(1))).toThrow(expect.objectContaining({ name: 'MalformedEntryError' }))
    expect((await first).index).toBe(0)
    await store.flush()
    expect(store.append(entry(1)).index).toBe(1)
    store.close()
  })

  it('refuses a microbatch already credited or queued, through commit as through append', async () => {
    const path = ledgerPath(tmp(), 'demo')
    const store = openLedgerStore({ path, campaign: 'demo' })
    const first = store.commit(entry(0))
    // Queued, not yet on disk: refused without an index (there is none yet).
    await expect(store.commit(entry(0))).rejects.toMatchObject({ name: 'DuplicateEntryError', microbatch: 0, index: undefined })
    expect(store.has(0)).toBe(true)
    expect((await first).index).toBe(0)
    await expect(store.commit({ ...entry(0), credits: [{ peerId: 'thief', flops: 1 }] })).rejects.toMatchObject({ name: 'DuplicateEntryError', index: 0 })
    expect(() => store.append(entry(0))).toThrow(expect.objectContaining({ name: 'DuplicateEntryError', index: 0 }))
    expect(store.length).toBe(1)
    store.close()
    const again = openLedgerStore({ path, campaign: 'demo' })
    await expect(again.commit(entry(0))).rejects.toMatchObject({ name: 'DuplicateEntryError', index: 0 })
    expect((await again.commit(entry(1))).index).toBe(1)
    again.close()
  })

  it('writes what is still queued when closed', async () => {
    const path = ledgerPath(tmp(), 'demo')
    const store = openLedgerStore({ path, campaign: 'demo' })
    const all = Promise.all(Array.from({ length: 30 }, async (_, i) => await store.commit(entry(i))))
    store.close()
    expect((await all).length).toBe(30)
    await new Promise(resolve => setTimeout(resolve, 50))
    const again = openLedgerStore({ path, campaign: 'demo' })
    expect(again.length).toBe(30)
    again.close()
  })

  it('loses no acknowledged commit when the writer is killed', async () => {
    const path = ledgerPath(tmp(), 'demo')
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./fixtures/commit-child.ts', import.meta.url)), path], { stdio: ['ignore', 'pipe', 'inherit'] })
    let acked = -1
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject)
      child.on('exit', () => { resolve() })
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        for (const m of chunk.matchAll(/acked (\d+)/g)) acked = Math.max(acked, Number(m[1]))
        if (acked >= 200) child.kill('SIGKILL')
      })
    })
    expect(acked).toBeGreaterThanOrEqual(200)
    const store = openLedgerStore({ path, campaign: 'demo' })
    expect(store.length).toBeGreaterThan(acked)
    expect(store.get(acked).entry.microbatch).toBe(acked)
    store.close()
  })
})
