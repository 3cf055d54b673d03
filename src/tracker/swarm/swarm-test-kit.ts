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
import { outputTree } from '../../ledger/output-merkle.ts'

export interface TestTab { key: PrivateKey, id: string }

/** A tracker as these helpers reach it: in process, or a child process they only know the URL of. */
export type TrackerAt = Pick<Tracker, 'url' | 'adminToken'>

export async function newTab (): Promise<TestTab> {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

/** Two stages, two microbatches a step: small enough to walk through by hand. */
/** `spotChecked`: every stage-1 microbatch is spot-checked (sync every step, rate 1); otherwise none is. */
export function twoStageManifest (name: string, opts: { spotChecked?: boolean } = {}): CampaignManifest {
  const m = demoManifest('e'.repeat(64), 100_000)
  m.name = name
  m.stages = 2
  m.training.accumulation = 2
  m.training.steps = 10
  // Spot checks are tested on their own: elsewhere a checked microbatch would hold a stage-1
  // share pending on a report these tests never send, at random (the tracker's secret picks).
  m.spot_check_rate = 0
  if (opts.spotChecked === true) {
    m.training.sync_every = 1
    m.spot_check_rate = 1
  }
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

/** A stage output whose every element comes from `values` (so replicas given the same values agree wherever the tracker looks). */
export const spotOutput = (values: readonly number[], numel = 256): Float32Array => Float32Array.from({ length: numel }, (_, i) => values[i % values.length])

/**
 * A replica's spot check as a tab runs it: commit to `output`, then open the indices the reply
 * reveals (it must be checked). Returns the open's reply.
 */
export async function spotVote (t: TrackerAt, campaign: string, tab: TestTab, c: { microbatch: number, stage: number, step?: number, weightsDigest?: string | null, output: Float32Array }): Promise<Reply> {
  const tree = outputTree(c.output)
  const commit = await call(t, campaign, tab, 'spotcommit', { microbatch: c.microbatch, stage: c.stage, step: c.step ?? 0, weightsDigest: c.weightsDigest === undefined ? 'a'.repeat(64) : c.weightsDigest, root: tree.root, numel: c.output.length })
  if (commit.status !== 200) return commit
  if (commit.json.checked !== true) throw new Error(`microbatch ${c.microbatch} stage ${c.stage} is not checked`)
  return await call(t, campaign, tab, 'spotcheck', { microbatch: c.microbatch, stage: c.stage, proofs: (commit.json.indices as number[]).map(i => tree.prove(i)) })
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
