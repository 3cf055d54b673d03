// What the swarm's attack and restart tests share: tabs with real Ed25519 keys that sign their
// calls as the app does, a two-stage campaign on a real tracker, and honest receipts of a route.
// Imported by tests only.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { signedPost, type SignedPostOptions } from '../../identity/signed-post.ts'
import { countersign, signAsSender } from '../../ledger/receipt.ts'
import { creditTable } from '../campaign-ledgers.ts'
import { demoManifest } from '../../campaign/demo.ts'
import type { CampaignManifest } from '../../campaign/manifest.ts'
import type { Tracker } from '../tracker.ts'

export interface TestTab { key: PrivateKey, id: string }

/** A tracker as these helpers reach it: in process, or a child process they only know the URL of. */
export type TrackerAt = Pick<Tracker, 'url' | 'adminToken'>

export async function newTab (): Promise<TestTab> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

/** Two stages, two microbatches a step: small enough to walk through by hand. */
export function twoStageManifest (name: string): CampaignManifest {
  const m = demoManifest('e'.repeat(64), 100_000)
  m.name = name
  m.stages = 2
  m.training.accumulation = 2
  m.training.steps = 10
  return m
}

export async function createCampaign (t: TrackerAt, m: CampaignManifest): Promise<string> {
  const res = await fetch(`${t.url}/api/campaigns`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminToken}` }, body: JSON.stringify(m) })
  if (res.status !== 201) throw new Error(`campaign refused: ${await res.text()}`)
  return (await res.json() as { id: string }).id
}

export interface Reply { status: number, json: any }

/** A swarm call by `tab`, signed with `signer` (default: its own key) and naming `tab` in the body. */
export async function call (t: TrackerAt, campaign: string, tab: TestTab, action: string, body: Record<string, unknown> = {}, opts: SignedPostOptions & { signer?: PrivateKey } = {}): Promise<Reply> {
  const res = await signedPost(`${t.url}/api/campaigns/${campaign}/${action}`, opts.signer ?? tab.key, { peerId: tab.id, ...body }, opts)
  return { status: res.status, json: await res.json() }
}

export async function get (t: TrackerAt, path: string): Promise<any> {
  return await (await fetch(t.url + path)).json()
}

/** Honest receipts of microbatch `mb` along s0 → s1 → s0, with digests that chain. */
export async function routeReceipts (m: CampaignManifest, campaign: string, mb: number, s0: TestTab, s1: TestTab, digests = { input: 'tokens', act: 'act', grad: 'grad', bwdInput: 'act' }): Promise<unknown[]> {
  const table = creditTable(m)
  return [
    await countersign(await signAsSender({ campaign, microbatch: mb, stage: 0, direction: 'fwd', flops: table[0].forward, inDigest: digests.input, outDigest: digests.act, from: s0.id, to: s1.id }, s0.key), s1.key),
    await countersign(await signAsSender({ campaign, microbatch: mb, stage: 1, direction: 'bwd', flops: table[1].backward + table[1].forward, inDigest: digests.bwdInput, outDigest: digests.grad, from: s1.id, to: s0.id }, s1.key), s0.key)
  ]
}
