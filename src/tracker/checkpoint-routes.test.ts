// Fine-tuning seeds on the tracker, behind a real HTTP server: upload checked against the config
// (every mismatch listed, nothing stored on error), stage shards only for tabs on that stage.
import { afterEach, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { checkManifestInit, handleCheckpointRoute, type SeedAccess } from './checkpoint-routes.ts'
import { NotFoundError } from './errors.ts'
import { sendError } from './http-util.ts'
import { decodeSafetensors, encodeSafetensors } from '../model/safetensors.ts'
import { exportRange, importHfCheckpoint } from '../model/hf-checkpoint.ts'
import { splitStages, validateConfig } from '../model/config.ts'
import { demoManifest } from '../campaign/demo.ts'
import { importStage } from '../model/checkpoint.ts'
import { createCallerAuth } from './swarm/caller-auth.ts'
import { newTab, type TestTab } from './swarm/swarm-test-kit.ts'
import { fetchSeedShard } from '../train/swarm/seed-client.ts'
import { CALL_HEADERS, signCall } from '../identity/swarm-call-signature.ts'
import { validateManifest, type CampaignManifest } from '../campaign/manifest.ts'

const fixture = new URL('../model/fixtures/', import.meta.url)
const config = validateConfig(JSON.parse(await readFile(new URL('hf-tiny.config.json', fixture), 'utf8')))
const ours = new Uint8Array(await readFile(new URL('hf-tiny/model.safetensors', fixture)))
// As GPT-2's own files are: GPT2Model names and lm_head tied to wte.
const hfStyle = encodeSafetensors([...decodeSafetensors(ours).tensors].filter(([n]) => n !== 'lm_head.weight').map(([n, t]) => [n.replace(/^transformer\./, ''), t]), { format: 'pt' })

const servers: Server[] = []
const dirs: string[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async s => { s.closeAllConnections(); await new Promise(resolve => s.close(resolve)) }))
  await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
})

async function start (seeds?: SeedAccess): Promise<{ url: string, dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tabgrad-ckpt-'))
  dirs.push(dataDir)
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    handleCheckpointRoute(req, res, path, { dataDir, seeds }).then(h => { if (!h) sendError(res, new NotFoundError()) }, err => { sendError(res, err) })
  })
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, dataDir }
}

const post = async (url: string, body: Uint8Array, cfg: unknown = config): Promise<{ status: number, json: any }> => {
  const res = await fetch(`${url}/api/checkpoints`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-model-config': JSON.stringify(cfg) }, body: body as Uint8Array<ArrayBuffer> })
  return { status: res.status, json: await res.json() }
}

describe('checkpoint routes', () => {
  it('stores a GPT-2-layout upload converted (tied head untied), content-addressed, and a manifest can name it', async () => {
    const { url, dataDir } = await start()
    const r = await post(url, hfStyle)
    expect(r.status).toBe(201)
    expect(r.json).toMatchObject({ tied_head: true, skipped: [] })
    const stored = new Uint8Array(await readFile(join(dataDir, 'checkpoints', `${r.json.sha256 as string}.safetensors`)))
    const imp = importHfCheckpoint(stored, config)
    const l = imp.layout
    expect(imp.params.subarray(l.byName.get('lm_head.weight')!.offset, l.byName.get('lm_head.weight')!.offset + 61 * 16)).toEqual(imp.params.subarray(0, 61 * 16))
    const d = demoManifest('a'.repeat(64), 100_000)
    const m: CampaignManifest = { ...d, model: config, dataset: { ...d.dataset, format: 'uint16' }, training: { ...d.training, seq_len: 8 }, init: { sha256: r.json.sha256 } }
    expect(validateManifest(m)).toEqual({ ok: true, manifest: m })
    expect(await checkManifestInit(dataDir, m)).toBeNull()
    expect(await checkManifestInit(dataDir, { ...m, model: { ...config, n_layer: 3 } })).toMatch(/missing tensor "transformer.h.2.ln_1.weight"/)
    expect(await checkManifestInit(dataDir, { ...m, init: { sha256: 'b'.repeat(64) } })).toMatch(/upload it first/)
  })

  it('refuses a checkpoint for another config with every mismatch listed, and stores nothing', async () => {
    const { url, dataDir } = await start()
    const r = await post(url, ours, { ...config, d_model: 32, vocab: 50 })
    expect(r.status).toBe(400)
    expect(r.json.problems.length).toBeGreaterThan(10)
    expect(r.json.problems).toContain('"transformer.wte.weight" has shape [61, 16], the config needs [50, 32]')
    expect(r.json.problems).toContain('"transformer.h.1.mlp.c_fc.weight" has shape [16, 64], the config needs [32, 128]')
    expect((await post(url, new Uint8Array([1, 2, 3]))).json.problems[0]).toMatch(/not a safetensors file/)
    expect((await fetch(`${url}/api/checkpoints`, { method: 'POST', body: 'x' })).status).toBe(400) // no config header
    expect(await readdir(join(dataDir, 'checkpoints')).catch(() => [])).toEqual([])
  })

  it('serves a stage\'s seed shard only to the tab that signed for it, and only if it is on that stage', async () => {
    const [a, b, stranger] = await Promise.all([newTab(), newTab(), newTab()])
    const members = new Map([[a.id, 0], [b.id, 1]])
    let manifest: CampaignManifest | undefined
    const auth = createCallerAuth()
    const { url } = await start({ manifest: () => manifest, authenticate: async (req, path) => await auth.authenticate(req, path, {}), stageOf: (_, peer) => members.get(peer) })
    const { json } = await post(url, ours)
    manifest = { ...demoManifest('a'.repeat(64), 100_000), model: config, stages: 2, init: { sha256: json.sha256 } }
    const id = '0'.repeat(32)
    const ranges = splitStages(config, 2)
    const seed = async (tab: TestTab, stage: number, progress?: number[]): Promise<Float32Array> =>
      await fetchSeedShard({ origin: url, campaign: id, peerId: tab.id, privateKey: tab.key, config, range: ranges[stage], onProgress: l => progress?.push(l) })
    const full = importHfCheckpoint(ours, config)
    const progress: number[] = []
    // Stage 1 gets exactly its layers and the head, in our layout; it never sees the embeddings.
    expect(await seed(b, 1, progress)).toEqual(importStage(exportRange(full, ranges[1])).params)
    expect(progress.at(-1)).toBe(exportRange(full, ranges[1]).byteLength)
    expect(await seed(a, 0)).toEqual(importStage(exportRange(full, ranges[0])).params)
    // A tab that never joined, a shard checked against the wrong range, the old unsigned ?peer= form, a forged signer.
    await expect(seed(stranger, 0)).rejects.toMatchObject({ status: 403 })
    await expect(seed(a, 1)).rejects.toThrow(/stage/)
    expect((await fetch(`${url}/api/campaigns/${id}/seed?peer=${b.id}`)).status).toBe(401)
    const forged = await signCall(stranger.key, { method: 'GET', path: `/api/campaigns/${id}/seed`, peerId: stranger.id, time: Date.now(), body: {} })
    expect((await fetch(`${url}/api/campaigns/${id}/seed`, { headers: { ...forged, [CALL_HEADERS.peer]: b.id } })).status).toBe(401)
  })
})
