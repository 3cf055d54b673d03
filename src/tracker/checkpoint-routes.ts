// Fine-tuning seeds: a researcher uploads a Hugging Face GPT-2 safetensors file for a model config
// (`POST /api/checkpoints`, header `x-model-config: <GPTConfig JSON>`); it is checked against the
// config (every mismatch listed, nothing stored on error), converted to our layout (a tied lm_head
// copied into the untied head) and stored content-addressed as `<sha256>.safetensors`. The
// campaign manifest names it (`init.sha256`). `GET /api/campaigns/:id/seed`, signed by the tab's
// libp2p key like every swarm call, then serves the stage shard of that seed only to the signing
// tab, and only if the coordinator has it on that stage: the tracker
// holds the seed the researcher published, never trained weights, and hands no tab more of it
// than its own stage.
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { BadRequestError, HttpError, MethodNotAllowedError, NotFoundError, PayloadTooLargeError } from './errors.ts'
import { sendJson } from './http-util.ts'
import { splitStages, validateConfig, type GPTConfig } from '../model/config.ts'
import { CheckpointMismatchError, exportRange, importHfCheckpoint } from '../model/hf-checkpoint.ts'
import { ModelError } from '../model/errors.ts'
import type { CampaignManifest } from '../campaign/manifest.ts'

/** 1 GiB: GPT-2 124M untied in fp32 is 652 MB; Hugging Face's tied file with mask buffers 548 MB. */
export const MAX_CHECKPOINT_BYTES = 1024 ** 3

export interface SeedAccess {
  manifest: (campaignId: string) => CampaignManifest | undefined
  /** The PeerId that signed this call (swarm/caller-auth.ts); throws 401 for an unsigned or forged one. */
  authenticate: (req: IncomingMessage, path: string) => Promise<string>
  /** the stage the coordinator has this peer on, or undefined when it has not joined */
  stageOf: (campaignId: string, peerId: string) => number | undefined
}

export interface CheckpointRouteInit {
  /** files go to `<dataDir>/checkpoints/` */
  dataDir: string
  /** @default MAX_CHECKPOINT_BYTES */
  maxBytes?: number
  /** needed for the seed route; without it that route is 404 */
  seeds?: SeedAccess
}

export interface StoredCheckpoint {
  sha256: string
  bytes: number
  /** lm_head came from the file's wte */
  tied_head: boolean
  /** file tensors that were buffers, not parameters */
  skipped: string[]
}

const SEED_RE = /^\/api\/campaigns\/([0-9a-f]{32})\/seed$/

export async function handleCheckpointRoute (req: IncomingMessage, res: ServerResponse, path: string, init: CheckpointRouteInit): Promise<boolean> {
  const dir = join(init.dataDir, 'checkpoints')
  if (path === '/api/checkpoints') {
    if (req.method !== 'POST') throw new MethodNotAllowedError('use POST with the safetensors file as the raw body')
    const config = configOf(req.headers['x-model-config'])
    const body = await readBody(req, init.maxBytes ?? MAX_CHECKPOINT_BYTES)
    try {
      sendJson(res, 201, await store(dir, body, config))
    } catch (err) {
      if (err instanceof CheckpointMismatchError) { sendJson(res, 400, { error: `the checkpoint does not fit the model: ${err.message}`, problems: err.problems }); return true }
      throw err
    }
    return true
  }
  const m = SEED_RE.exec(path)
  if (m == null || init.seeds == null) return false
  if (req.method !== 'GET') throw new MethodNotAllowedError()
  const manifest = init.seeds.manifest(m[1])
  if (manifest == null) throw new NotFoundError(`no campaign ${m[1]}`)
  if (manifest.init == null) throw new NotFoundError('this campaign starts from the seed init, not a checkpoint')
  // Signed over an empty body: a GET carries none, and the signature names the path and the tab.
  const peer = await init.seeds.authenticate(req, path)
  const stage = init.seeds.stageOf(m[1], peer)
  if (stage == null) throw new HttpError(403, 'only a tab that joined a stage gets that stage\'s seed weights: join first')
  const shard = await stageShard(dir, manifest, stage)
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': shard.byteLength, 'cache-control': 'no-store', 'cross-origin-resource-policy': 'same-origin' })
  res.end(shard)
  return true
}

/** Manifest problems with `init`: the checkpoint must be stored here and fit the model. For the creation path. */
export async function checkManifestInit (dataDir: string, manifest: CampaignManifest): Promise<string | null> {
  if (manifest.init == null) return null
  // A copy into a plain Uint8Array: Buffer.slice is a view, and the decoder relies on slice copying.
  const file = await readFile(join(dataDir, 'checkpoints', `${manifest.init.sha256}.safetensors`)).then(b => new Uint8Array(b), () => null)
  if (file == null) return `no checkpoint ${manifest.init.sha256} on this tracker: upload it first (POST /api/checkpoints)`
  try {
    importHfCheckpoint(file, manifest.model)
    return null
  } catch (err) {
    if (err instanceof CheckpointMismatchError) return `checkpoint ${manifest.init.sha256} does not fit the model: ${err.message}`
    throw err
  }
}

// ---- helpers

function configOf (header: string | string[] | undefined): GPTConfig {
  const raw = Array.isArray(header) ? header[0] : header
  if (raw == null) throw new BadRequestError('x-model-config header is required: the model config JSON the checkpoint must fit')
  try {
    return validateConfig(JSON.parse(raw))
  } catch (err) {
    if (err instanceof SyntaxError || err instanceof ModelError) throw new BadRequestError(`x-model-config: ${err.message}`)
    throw err
  }
}

async function readBody (req: IncomingMessage, max: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? NaN)
  if (Number.isFinite(declared) && declared > max) { req.resume(); throw new PayloadTooLargeError(`checkpoint of ${declared} bytes exceeds the ${max}-byte limit`) }
  const chunks: Buffer[] = []
  let n = 0
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length
    if (n > max) { req.resume(); throw new PayloadTooLargeError(`checkpoint exceeds the ${max}-byte limit`) }
    chunks.push(c)
  }
  if (n === 0) throw new BadRequestError('the checkpoint is empty')
  return new Uint8Array(Buffer.concat(chunks, n))
}

async function store (dir: string, body: Uint8Array, config: GPTConfig): Promise<StoredCheckpoint> {
  const imp = importHfCheckpoint(body, config)
  const canonical = exportRange(imp)
  const sha256 = createHash('sha256').update(canonical).digest('hex')
  await mkdir(dir, { recursive: true })
  const file = join(dir, `${sha256}.safetensors`)
  if (await stat(file).catch(() => null) == null) await writeAtomic(file, canonical)
  return { sha256, bytes: canonical.byteLength, tied_head: imp.tiedHead, skipped: imp.skipped }
}

async function stageShard (dir: string, manifest: CampaignManifest, stage: number): Promise<Uint8Array> {
  const range = splitStages(manifest.model, manifest.stages)[stage]
  const sha = manifest.init!.sha256
  const cached = join(dir, `${sha}.stage-${range.first}-${range.last}.safetensors`)
  const hit = await readFile(cached).catch(() => null)
  if (hit != null) return new Uint8Array(hit)
  const full = await readFile(join(dir, `${sha}.safetensors`)).catch(() => null)
  if (full == null) throw new NotFoundError(`the campaign's checkpoint ${sha} is not on this tracker`)
  const shard = exportRange(importHfCheckpoint(new Uint8Array(full), manifest.model), range)
  await writeAtomic(cached, shard)
  return shard
}

async function writeAtomic (path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(tmp, bytes)
    await rename(tmp, path)
  } catch (e) {
    await rm(tmp, { force: true })
    throw e
  }
}
