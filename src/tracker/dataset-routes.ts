// Researcher-uploaded datasets: `POST /api/datasets` stores a token file content-addressed by its
// sha256, `GET /datasets/<sha256>.<ext>` serves it back. With an `x-tokenizer: gpt2` header, text is
// tokenized in a worker thread (`GET /api/datasets/jobs/:id` reports progress and, when done, the
// token file), and a `.bin` is checked against that tokenizer's vocabulary. `GET
// /api/datasets/builtin` tokenizes the shipped SOTU corpus on first use. The tracker mounts this
// before static files:
//
//   if (await handleDatasetRoute(req, res, path, { dataDir: config.dataDir })) return
//
// Names that are not `<64 hex>.txt|.bin` are left to the static server (the built-in corpus lives
// in dist/datasets), which 404s anything it does not have.
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { BadRequestError, HttpError, MethodNotAllowedError, NotFoundError, PayloadTooLargeError } from './errors.ts'
import { sendError, sendJson } from './http-util.ts'
import { BODY_TIMEOUT_MS } from './constants.ts'
import { createTokenizeJobs, readSidecar, type TokenizeJob, type TokenizeJobs } from './tokenize-jobs.ts'
import { isTokenizerName, TOKENIZER_NAMES, TOKENIZER_VOCAB, type TokenizerName } from '../tokenizer/tokenizer.ts'
import { decodeIds, makeTokenFile, type TokenFileMeta } from '../data/token-file.ts'
import { TokenFileError } from '../data/errors.ts'
import { SOTU_SOURCE } from '../data/sotu.ts'
import { handleCheckpointRoute, type SeedAccess } from './checkpoint-routes.ts'

/**
 * 32 MiB: a browser tab maps the whole token file for stage 0 and the last stage, and a tab's
 * memory also holds its stage's weights; 32 MiB is ~16 M uint16 tokens, plenty for a campaign.
 */
export const MAX_DATASET_BYTES = 32 * 1024 * 1024

export interface DatasetRouteInit {
  /** Files go to `<dataDir>/datasets/`. */
  dataDir: string
  /**
   * Largest accepted upload, in bytes.
   * @default MAX_DATASET_BYTES
   */
  maxBytes?: number
  /**
   * Tokenization jobs (worker threads).
   * @default one shared set per dataDir
   */
  jobs?: TokenizeJobs
  /** campaign lookups for the fine-tuning seed route (checkpoint-routes.ts); without them it is 404 */
  seeds?: SeedAccess
}

export interface UploadedDataset {
  /** Path on the tracker's origin, ready for the manifest's `dataset.url`. */
  url: string
  sha256: string
  bytes: number
  format: 'bytes' | 'uint16'
  /** token files with a sidecar: the tokenizer that made them and the held-out tail */
  tokenizer?: TokenizerName
  validation_tokens?: number
}

/** A tokenization job as the API shows it: progress, then the token file ready for the manifest. */
export interface DatasetJobView {
  id: string
  status: TokenizeJob['status']
  done: number
  total: number
  tokens: number
  error: string | null
  dataset: UploadedDataset | null
}

const FILE_RE = /^\/datasets\/([0-9a-f]{64})\.(txt|bin|bin\.json)$/
const JOB_RE = /^\/api\/datasets\/jobs\/([0-9a-f]{32})$/
const TYPES = { txt: 'text/plain; charset=utf-8', bin: 'application/octet-stream', 'bin.json': 'application/json' } as const

/** The shipped corpus, tokenized with GPT-2 on first use. */
export const BUILTIN_CORPORA = [{ id: 'sotu-gpt2', name: 'State of the Union addresses 1790–2016 (GPT-2 tokens)', tokenizer: 'gpt2' as const, source: SOTU_SOURCE }]

const sharedJobs = new Map<string, TokenizeJobs>()

function jobsOf (init: DatasetRouteInit): TokenizeJobs {
  if (init.jobs != null) return init.jobs
  let j = sharedJobs.get(init.dataDir)
  if (j == null) { j = createTokenizeJobs(); sharedJobs.set(init.dataDir, j) }
  return j
}

export function datasetOfMeta (meta: TokenFileMeta): UploadedDataset {
  return { url: `/datasets/${meta.sha256}.bin`, sha256: meta.sha256, bytes: 2 * meta.tokens, format: 'uint16', tokenizer: meta.tokenizer, validation_tokens: meta.validation_tokens }
}

function jobView (job: TokenizeJob): DatasetJobView {
  return { id: job.id, status: job.status, done: job.done, total: job.total, tokens: job.tokens, error: job.error, dataset: job.meta != null ? datasetOfMeta(job.meta) : null }
}

/** Handles the request if it is a dataset route; returns false (nothing sent) otherwise. */
export async function handleDatasetRoute (req: IncomingMessage, res: ServerResponse, path: string, init: DatasetRouteInit): Promise<boolean> {
  const dir = join(init.dataDir, 'datasets')
  try {
    if (await handleCheckpointRoute(req, res, path, { dataDir: init.dataDir, seeds: init.seeds })) return true
    if (path === '/api/datasets') {
      if (req.method !== 'POST') throw new MethodNotAllowedError('use POST with the file as the raw body')
      const tokenizer = tokenizerOf(req.headers['x-tokenizer'])
      const stored = await receive(req, dir, init.maxBytes ?? MAX_DATASET_BYTES)
      if (tokenizer == null) { sendJson(res, 201, stored); return true }
      if (stored.format === 'uint16') { sendJson(res, 201, await describeBin(dir, stored, tokenizer)); return true }
      const job = jobsOf(init).start(stored.sha256, { text: { path: join(dir, `${stored.sha256}.txt`), source: `upload ${stored.sha256}.txt` }, tokenizer, outDir: dir })
      sendJson(res, 202, { text: stored, job: jobView(job) })
      return true
    }
    if (path === '/api/datasets/builtin') {
      if (req.method !== 'GET') throw new MethodNotAllowedError()
      const corpora = BUILTIN_CORPORA.map(c => ({ ...c, job: jobView(jobsOf(init).start(`builtin:${c.id}`, { text: 'sotu', tokenizer: c.tokenizer, outDir: dir })) }))
      sendJson(res, 200, { corpora })
      return true
    }
    const j = JOB_RE.exec(path)
    if (j != null) {
      if (req.method !== 'GET') throw new MethodNotAllowedError()
      const job = jobsOf(init).get(j[1])
      if (job == null) throw new NotFoundError('no such tokenization job (jobs are kept until the tracker restarts)')
      sendJson(res, 200, jobView(job))
      return true
    }
    const m = FILE_RE.exec(path)
    if (m == null) return false
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new MethodNotAllowedError()
    await serve(req, res, join(dir, `${m[1]}.${m[2]}`), TYPES[m[2] as keyof typeof TYPES])
    return true
  } catch (err) {
    if (!(err instanceof HttpError)) throw err
    if (res.headersSent) { res.destroy(); return true }
    // After a 413 the client may still be sending: close the connection rather than drain it.
    if (err instanceof PayloadTooLargeError) res.setHeader('connection', 'close')
    sendError(res, err)
    return true
  }
}

// ---- tokenizers

function tokenizerOf (header: string | string[] | undefined): TokenizerName | null {
  const raw = Array.isArray(header) ? header[0] : header
  if (raw == null || raw === '') return null
  if (!isTokenizerName(raw)) throw new BadRequestError(`x-tokenizer must be one of ${TOKENIZER_NAMES.join(', ')}`)
  return raw
}

/** A stored .bin named with a tokenizer: every id must be in its vocabulary; writes the sidecar. */
async function describeBin (dir: string, stored: UploadedDataset, tokenizer: TokenizerName): Promise<UploadedDataset> {
  const existing = await readSidecar(dir, stored.sha256)
  if (existing != null && existing.tokenizer === tokenizer) return datasetOfMeta(existing)
  const file = join(dir, `${stored.sha256}.bin`)
  let ids: Uint32Array
  try {
    ids = decodeIds(new Uint8Array(await readFile(file)), TOKENIZER_VOCAB[tokenizer])
  } catch (err) {
    if (err instanceof TokenFileError) throw new BadRequestError(`not a ${tokenizer} token file: ${err.message}`)
    throw err
  }
  const { meta } = await makeTokenFile(ids, { tokenizer, source: `upload ${stored.sha256}.bin` })
  const tmp = `${file}.json.${randomBytes(4).toString('hex')}.tmp`
  await writeFile(tmp, JSON.stringify(meta, null, 2) + '\n')
  await rename(tmp, `${file}.json`)
  return datasetOfMeta(meta)
}

// ---- upload

/** `.bin` files are uint16 little-endian token ids; anything else is bytes-as-tokens (DESIGN.md, `--data`). */
function formatOf (filename: string): { format: UploadedDataset['format'], ext: 'txt' | 'bin' } {
  return /\.bin$/i.test(filename) ? { format: 'uint16', ext: 'bin' } : { format: 'bytes', ext: 'txt' }
}

async function receive (req: IncomingMessage, dir: string, maxBytes: number): Promise<UploadedDataset> {
  const type = req.headers['content-type'] ?? ''
  if (!/^(application\/octet-stream|text\/plain)\b/i.test(type)) {
    req.resume()
    throw new HttpError(415, 'content-type must be application/octet-stream or text/plain')
  }
  const filename = decodeFilename(req.headers['x-filename'])
  const declared = Number(req.headers['content-length'] ?? NaN)
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume()
    throw new PayloadTooLargeError(`dataset of ${declared} bytes exceeds the ${maxBytes}-byte limit`)
  }
  const { format, ext } = formatOf(filename)

  await mkdir(dir, { recursive: true })
  const tmp = join(dir, `.upload-${randomBytes(8).toString('hex')}.tmp`)
  const out = createWriteStream(tmp, { flags: 'wx' })
  const hash = createHash('sha256')
  let bytes = 0
  try {
    await new Promise<void>((resolve, reject) => {
      // An idle timeout, not a total one: 32 MiB over a slow uplink takes longer than BODY_TIMEOUT_MS.
      let timer = setTimeout(onIdle, BODY_TIMEOUT_MS)
      function onIdle (): void { fail(new HttpError(408, 'upload stalled')); req.destroy() }
      function fail (err: Error): void { clearTimeout(timer); req.off('data', onData); reject(err) }
      function onData (chunk: Buffer): void {
        clearTimeout(timer)
        timer = setTimeout(onIdle, BODY_TIMEOUT_MS)
        bytes += chunk.length
        if (bytes > maxBytes) {
          req.resume()
          fail(new PayloadTooLargeError(`dataset exceeds the ${maxBytes}-byte limit`))
          return
        }
        hash.update(chunk)
        // Back-pressure: stop reading while the disk catches up.
        if (!out.write(chunk)) { req.pause(); out.once('drain', () => req.resume()) }
      }
      req.on('data', onData)
      req.on('end', () => { clearTimeout(timer); resolve() })
      req.on('error', err => fail(new BadRequestError(`upload failed: ${err.message}`)))
      out.on('error', err => fail(err))
    })
    await closeStream(out)
    if (bytes === 0) throw new BadRequestError('the dataset is empty')
    if (format === 'uint16' && bytes % 2 !== 0) throw new BadRequestError('a .bin dataset holds uint16 tokens, so its length must be even')
    const sha256 = hash.digest('hex')
    const name = `${sha256}.${ext}`
    // rename is atomic on one filesystem: readers see the whole file or none.
    await rename(tmp, join(dir, name))
    return { url: `/datasets/${name}`, sha256, bytes, format }
  } catch (err) {
    out.destroy()
    await rm(tmp, { force: true })
    throw err
  }
}

function decodeFilename (header: string | string[] | undefined): string {
  const raw = Array.isArray(header) ? header[0] : header
  if (raw == null || raw.trim() === '') throw new BadRequestError('x-filename header is required (the uploaded file\'s name)')
  try {
    return decodeURIComponent(raw)
  } catch {
    throw new BadRequestError('x-filename must be URI-encoded')
  }
}

async function closeStream (out: WriteStream): Promise<void> {
  await new Promise<void>((resolve, reject) => { out.end((err?: Error | null) => { if (err != null) reject(err); else resolve() }) })
}

// ---- download

async function serve (req: IncomingMessage, res: ServerResponse, file: string, type: string): Promise<void> {
  const info = await stat(file).catch(() => null)
  if (info == null || !info.isFile()) throw new NotFoundError('no such dataset')
  res.writeHead(200, {
    'content-type': type,
    'content-length': info.size,
    // Content-addressed: the name is the digest, so the bytes can never change.
    'cache-control': 'public, max-age=31536000, immutable',
    // Same headers as the static files: the app page is cross-origin isolated.
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-embedder-policy': 'require-corp',
    'cross-origin-resource-policy': 'same-origin'
  })
  if (req.method === 'HEAD') { res.end(); return }
  createReadStream(file).pipe(res)
}
