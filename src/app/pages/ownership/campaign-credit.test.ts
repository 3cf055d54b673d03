// The ownership page's per-campaign state against the real tracker in-process (its relative
// `/api/...` calls are pointed at the tracker's URL): a microbatch credited from real signed
// receipts shows up with its proof verified, and a proof that does not check out is reported.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { startTracker, type Tracker } from '../../../tracker/tracker.ts'
import { creditTable } from '../../../tracker/campaign-ledgers.ts'
import { demoManifest } from '../../../campaign/demo.ts'
import { countersign, signAsSender, type Receipt } from '../../../ledger/receipt.ts'
import { CampaignCredit, PIN_MISMATCH_SHORT } from './campaign-credit.svelte.ts'
import { trackerKeyPin } from '../../../ledger/merkle.ts'
import { keptFrom } from '../../receipts/kept-receipt.ts'
import { signedPost } from '../../../identity/signed-post.ts'

let tracker: Tracker
let dir: string
let campaign: string
let p0: string
let p1: string
/** Rewrites a response body on its way to the page, to play a lying tracker. */
let tamper: ((path: string, body: any) => any) | undefined
const manifest = demoManifest('d'.repeat(64), 100_000)
// No spot checks: a checked microbatch would keep the stage-1 share pending on a report never sent.
manifest.spot_check_rate = 0

/** Tabs' keys by PeerId: their swarm calls are signed, as the app's are. */
const keys = new Map<string, PrivateKey>()

async function call (path: string, body?: unknown): Promise<any> {
  const key = keys.get((body as { peerId?: string } | undefined)?.peerId ?? '')
  const res = key != null
    ? await signedPost(path, key, body)
    : await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return await res.json()
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tabgrad-credit-'))
  tracker = await startTracker({ host: '127.0.0.1', port: 0, relayPort: 0, dataDir: dir, staticDir: 'public' })
  const realFetch = globalThis.fetch
  vi.stubGlobal('fetch', async (input: string, init?: RequestInit) => {
    const res = await realFetch(new URL(input, tracker.url), init)
    if (tamper == null) return res
    return Response.json(tamper(new URL(input, tracker.url).pathname, await res.json()), { status: res.status })
  })

  // Two tabs complete microbatches 0 and 1 along a real two-stage route.
  campaign = (await (await fetch('/api/campaigns', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tracker.adminToken}` }, body: JSON.stringify(manifest) })).json()).id
  const k0 = await generateKeyPair('Ed25519')
  const k1 = await generateKeyPair('Ed25519')
  p0 = peerIdFromPrivateKey(k0).toString()
  p1 = peerIdFromPrivateKey(k1).toString()
  keys.set(p0, k0).set(p1, k1)
  await call(`/api/campaigns/${campaign}/join`, { peerId: p0 })
  await call(`/api/campaigns/${campaign}/join`, { peerId: p1 })
  await call(`/api/campaigns/${campaign}/lease`, { peerId: p0, max: 2 })
  const table = creditTable(manifest)
  const receipt = async (r: Omit<Receipt, 'campaign'>, from: PrivateKey, to: PrivateKey): Promise<unknown> => await countersign(await signAsSender({ campaign, ...r }, from), to)
  for (const mb of [0, 1]) {
    const receipts = [
      await receipt({ microbatch: mb, stage: 0, direction: 'fwd', flops: table[0].forward, inDigest: 'a', outDigest: 'b', from: p0, to: p1 }, k0, k1),
      await receipt({ microbatch: mb, stage: 1, direction: 'bwd', flops: table[1].backward + table[1].forward, inDigest: 'b', outDigest: 'c', from: p1, to: p0 }, k1, k0)
    ]
    expect((await call(`/api/campaigns/${campaign}/complete`, { peerId: p0, microbatch: mb, receipts })).credited).toBe(true)
  }
})

afterAll(async () => {
  vi.unstubAllGlobals()
  await tracker.close()
  await rm(dir, { recursive: true, force: true })
})

describe('CampaignCredit', () => {
  it("lists the tab's ledger records with its share, and verifies each proof", async () => {
    const credit = new CampaignCredit(campaign)
    await credit.load(p0, p0, tracker.relay.peerId.toString())
    expect(credit.error).toBeNull()
    const table = creditTable(manifest)
    expect(credit.totalFlops).toBe(2 * (table[0].total + table[1].total))
    expect(credit.holder).toMatchObject({ address: p0, flops: 2 * table[0].total })
    expect(credit.records.map(r => [r.microbatch, r.flops, r.status])).toEqual([[0, table[0].total, 'verified'], [1, table[0].total, 'verified']])
    expect(credit.verified).toBe(2)
    expect(credit.checking).toBe(false)
  })

  it('reports a root not signed by the tracker the page trusts', async () => {
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const credit = new CampaignCredit(campaign)
    await credit.load(p1, p1, other)
    expect(credit.records.map(r => r.status)).toEqual(['failed', 'failed'])
    expect(credit.records[0].problem).toMatch(/not signed by this tracker/)
  })

  it('reports a record edited after it was proven, and a proof that does not reach the root', async () => {
    const trackerId = tracker.relay.peerId.toString()
    tamper = (path, body) => {
      if (path.endsWith('/ledger/proof/0')) body.record.entry.credits[0].flops *= 2
      if (path.endsWith('/ledger/proof/1')) body.proof.path[0] = body.proof.path[0].replace(/^./, (c: string) => c === '0' ? '1' : '0')
      return body
    }
    try {
      const credit = new CampaignCredit(campaign)
      await credit.load(p0, p0, trackerId)
      expect(credit.records.map(r => r.problem)).toEqual(['the record hash does not match its content', 'the record is not in the signed epoch root'])
      expect(credit.failed).toBe(2)
    } finally {
      tamper = undefined
    }
  })
})

describe('CampaignCredit with a pinned tracker key and kept receipts', () => {
  it('verifies against the pinned key, and refuses every root when the pin names another key', async () => {
    const trackerId = tracker.relay.peerId.toString()
    const pinned = new CampaignCredit(campaign)
    await pinned.load(p0, p0, trackerId, { pin: trackerKeyPin(trackerId) })
    expect(pinned.pin.status).toBe('matches')
    expect(pinned.records.map(r => r.status)).toEqual(['verified', 'verified'])

    // The link named another tracker's key: the server's roots are refused, whatever key it presents.
    const other = trackerKeyPin(peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString())
    const refused = new CampaignCredit(campaign)
    await refused.load(p0, p0, trackerId, { pin: other })
    expect(refused.pin).toEqual({ status: 'mismatch', pin: other })
    expect(refused.records.map(r => r.problem)).toEqual([PIN_MISMATCH_SHORT, PIN_MISMATCH_SHORT])
    expect(refused.verified).toBe(0)
  })

  it("compares this browser's kept receipts with the ledger in the same pass", async () => {
    const entries = (await (await fetch(`/api/campaigns/${campaign}/ledger`)).json()).entries
    const signed = entries.flatMap((r: any) => r.entry.receipts.filter((x: any) => x.receipt.from === p0))
    expect(signed).toHaveLength(2)
    const kept = signed.map((r: any) => keptFrom(r, p0, 0))
    // A hop this tab signed for microbatch 9, which never completed.
    const lost = await signAsSender({ campaign, microbatch: 9, stage: 0, direction: 'fwd', flops: 1, inDigest: 'x', outDigest: 'y', from: p0, to: p1 }, keys.get(p0)!)
    kept.push(keptFrom(lost, p0, 0))
    const credit = new CampaignCredit(campaign)
    await credit.load(p0, p0, tracker.relay.peerId.toString(), { kept })
    expect(credit.receipts).toMatchObject({ total: 3, inLedger: 2, pending: 0, missing: 1 })
    expect(credit.receipts!.notInLedger.map(r => [r.receipt.microbatch, r.fate])).toEqual([[9, 'missing']])
    expect(credit.pin.status).toBe('unpinned')
  })
})
