// Restart safety of the ledger on the real tracker: a microbatch already in the ledger is never
// credited again (also after a restart: nothing is written), and a ledger that does not verify stops the
// tracker at start with its file and line, instead of on the first request that touches it.
import { afterEach, expect, it } from 'vitest'
import { readFile, writeFile } from 'node:fs/promises'
import { testTrackers } from './test-trackers.ts'
import { ledgerPath } from './ledger-store.ts'

const trackers = testTrackers('tabgrad-ledger-start-')
afterEach(async () => { await trackers.cleanup() })

it('refuses double credit across a restart and refuses to start on a tampered ledger', async () => {
  const dir = await trackers.dataDir()
  let t = await trackers.start(dir)
  const id = t.demoCampaignId
  const credit = { credits: [{ peerId: 'tabA', flops: 10 }], receipts: [] }
  await t.ledgers.append(id, 0, credit)
  const first = await t.ledgers.append(id, 1, credit)
  expect(await t.ledgers.append(id, 1, { ...credit, credits: [{ peerId: 'thief', flops: 10 }] })).toEqual(first)
  // A duplicate racing its first entry's batch: both resolve to that one entry.
  const [a, b] = await Promise.all([t.ledgers.append(id, 2, credit), t.ledgers.append(id, 2, { ...credit, credits: [{ peerId: 'thief', flops: 10 }] })])
  expect(b).toEqual(a)
  expect(a.entry.credits).toEqual(credit.credits)
  await trackers.close(t)

  // After a restart (the coordinator forgot its done set) the ledger still credits microbatch 1 once.
  t = await trackers.start(dir)
  expect(t.ledgers.has(id, 1)).toBe(true)
  expect((await t.ledgers.append(id, 1, { ...credit, credits: [{ peerId: 'thief', flops: 10 }] })).entry.credits).toEqual(credit.credits)
  const own = await (await fetch(`${t.url}/api/campaigns/${id}/ownership`)).json() as { total_flops: number }
  expect(own.total_flops).toBe(30)
  await trackers.close(t)

  // Edit a committed line: the next start fails at once and names the campaign, file and line.
  const path = ledgerPath(dir, id)
  const lines = (await readFile(path, 'utf8')).split('\n')
  lines[1] = lines[1].replace('"flops":10', '"flops":10000')
  await writeFile(path, lines.join('\n'))
  const err = await trackers.start(dir).then(() => null, (e: Error) => e)
  expect(err?.name).toBe('LedgerStartError')
  expect(err?.message).toContain(`${path}:2: hash does not match`)
  expect(err?.message).toContain(id)
  // It closed what it had opened: a fixed ledger starts on the same data dir.
  lines[1] = lines[1].replace('"flops":10000', '"flops":10')
  await writeFile(path, lines.join('\n'))
  t = await trackers.start(dir)
  expect(t.ledgers.has(id, 0)).toBe(true)
})
