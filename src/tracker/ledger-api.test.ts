// The real tracker credits a microbatch from signed receipts of a real two-stage route, serves a
// proof that verifies, and moves a PeerId's credit to its address after SIWE sign-in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wallet } from 'ethers'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { toString as bytesToString } from 'uint8arrays/to-string'
import type { PrivateKey } from '@libp2p/interface'
import { startTracker, type Tracker } from './tracker.ts'
import { demoManifest } from '../campaign/demo.ts'
import { creditTable } from './campaign-ledgers.ts'
import { countersign, signAsSender, type Receipt } from '../ledger/receipt.ts'
import { verifyEpochRoot, verifyInclusion } from '../ledger/merkle.ts'
import { buildSignInMessage } from '../identity/siwe-message.ts'
import { signedPost } from '../identity/signed-post.ts'

let t: Tracker
let dir: string
let campaign: string
const manifest = demoManifest('c'.repeat(64), 100_000)
manifest.name = 'Ledger test'
manifest.training.accumulation = 2
// No spot checks: a checked microbatch would keep the stage-1 share pending on a report never sent.
manifest.spot_check_rate = 0

/** Tabs' keys by PeerId: a swarm call for one of them is signed with its key, as the app does. */
const keys = new Map<string, PrivateKey>()

async function call (path: string, body?: unknown): Promise<{ status: number, json: any }> {
  const key = keys.get((body as { peerId?: string } | undefined)?.peerId ?? '')
  const res = key != null
    ? await signedPost(t.url + path, key, body)
    : await fetch(t.url + path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.status, json: await res.json() }
}

async function receipt (r: Omit<Receipt, 'campaign'>, from: PrivateKey, to: PrivateKey): Promise<unknown> {
  return await countersign(await signAsSender({ campaign, ...r }, from), to)
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tabgrad-ledger-api-'))
  t = await startTracker({ host: '127.0.0.1', port: 0, relayPort: 0, dataDir: dir, staticDir: 'public' })
  campaign = (await (await fetch(`${t.url}/api/campaigns`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}` }, body: JSON.stringify(manifest) })).json()).id
})
afterAll(async () => {
  await t.close()
  await rm(dir, { recursive: true, force: true })
})

describe('credit from receipts', () => {
  it('credits a two-stage route once, proves it, and follows the PeerId to its address', async () => {
    const k0 = await generateKeyPair('Ed25519'); const k1 = await generateKeyPair('Ed25519')
    const p0 = peerIdFromPrivateKey(k0).toString(); const p1 = peerIdFromPrivateKey(k1).toString()
    keys.set(p0, k0).set(p1, k1)
    expect((await call(`/api/campaigns/${campaign}/join`, { peerId: p0 })).json.stage).toBe(0)
    expect((await call(`/api/campaigns/${campaign}/join`, { peerId: p1 })).json.stage).toBe(1)
    const { leases } = (await call(`/api/campaigns/${campaign}/lease`, { peerId: p0, max: 2 })).json
    expect(leases.map((l: { id: number }) => l.id)).toEqual([0, 1])
    const table = creditTable(manifest)
    const hops = async (mb: number, fwdFlops = table[0].forward): Promise<unknown[]> => [
      await receipt({ microbatch: mb, stage: 0, direction: 'fwd', flops: fwdFlops, inDigest: 'a', outDigest: 'b', from: p0, to: p1 }, k0, k1),
      await receipt({ microbatch: mb, stage: 1, direction: 'bwd', flops: table[1].backward + table[1].forward, inDigest: 'b', outDigest: 'c', from: p1, to: p0 }, k1, k0)
    ]

    // Inflated FLOPs, a forged countersignature, or receipts of another microbatch complete nothing.
    const inflated = await call(`/api/campaigns/${campaign}/complete`, { peerId: p0, microbatch: 0, receipts: await hops(0, table[0].forward * 10) })
    expect(inflated.status).toBe(400)
    expect(inflated.json.error).toMatch(/states \d+ FLOPs/)
    const forged = await hops(0) as Array<{ toSig: string }>
    forged[0].toSig = forged[1].toSig
    expect((await call(`/api/campaigns/${campaign}/complete`, { peerId: p0, microbatch: 0, receipts: forged })).status).toBe(400)
    expect((await call(`/api/campaigns/${campaign}/complete`, { peerId: p0, microbatch: 0, receipts: await hops(1) })).status).toBe(400)
    expect((await call(`/api/campaigns/${campaign}/complete`, { peerId: p0, microbatch: 0, receipts: [] })).json.error).toMatch(/missing the fwd receipt/)
    // A relayed loss that is not a finite number completes nothing either (JSON carries no NaN, so a string stands in for it).
    expect((await call(`/api/campaigns/${campaign}/complete`, { peerId: p0, microbatch: 0, receipts: await hops(0), loss: 'NaN' })).json.error).toMatch(/loss must be a finite number/)
    expect((await call(`/api/campaigns/${campaign}/swarm`)).json.microbatches.completed).toBe(0)

    const ok = await call(`/api/campaigns/${campaign}/complete`, { peerId: p0, microbatch: 0, receipts: await hops(0), loss: 5.5 })
    expect(ok.json).toMatchObject({ credited: true, step: 0 })
    expect((await call(`/api/campaigns/${campaign}/complete`, { peerId: p0, microbatch: 0, receipts: await hops(0) })).json.credited).toBe(false)

    const ledger = (await call(`/api/campaigns/${campaign}/ledger`)).json
    expect(ledger.length).toBe(1)
    expect(ledger.entries[0].entry.credits).toEqual([{ peerId: p0, flops: table[0].total }, { peerId: p1, flops: table[1].total }])
    const { record, proof, epoch } = (await call(`/api/campaigns/${campaign}/ledger/proof/0`)).json
    expect(await verifyEpochRoot(epoch, t.relay.peerId.toString())).toBe(true)
    expect(verifyInclusion(record.hash, proof, epoch)).toBe(true)
    expect(verifyInclusion(record.hash.replace(/^./, (c: string) => c === '0' ? '1' : '0'), proof, epoch)).toBe(false)
    expect((await call(`/api/campaigns/${campaign}/ledger/proof/5`)).status).toBe(404)

    let own = (await call(`/api/campaigns/${campaign}/ownership`)).json
    const total = table[0].total + table[1].total
    expect(own.total_flops).toBe(total)
    expect(own.holders.find((h: { address: string }) => h.address === p0).share).toBeCloseTo(table[0].total / total, 12)

    // Sign in p0's tab with a wallet: its credit now shows under the address.
    const wallet = Wallet.createRandom()
    const { nonce } = (await call('/api/siwe/nonce')).json
    const message = buildSignInMessage({ address: wallet.address, peerId: p0, nonce, origin: t.url })
    const signIn = await call('/api/siwe/verify', { message, signature: await wallet.signMessage(message), peerSignature: bytesToString(await k0.sign(new TextEncoder().encode(message)), 'base64pad') })
    expect(signIn.json).toEqual({ address: wallet.address, peerId: p0, peerIds: [p0] })
    expect((await call(`/api/identity/${wallet.address}`)).json.peerIds).toEqual([p0])
    own = (await call(`/api/campaigns/${campaign}/ownership`)).json
    expect(own.holders.map((h: { address: string }) => h.address).sort()).toEqual([wallet.address, p1].sort())
    // Replaying the same nonce fails.
    expect((await call('/api/siwe/verify', { message, signature: await wallet.signMessage(message), peerSignature: 'x' })).status).toBeGreaterThanOrEqual(400)
  })
})
