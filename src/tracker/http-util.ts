// Request/response helpers: bounded JSON bodies and one-line JSON errors.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { BadRequestError, HttpError, PayloadTooLargeError } from './errors.ts'
import { BODY_TIMEOUT_MS, MAX_JSON_BODY_BYTES } from './constants.ts'

export function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body))
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': bytes.length, 'cache-control': 'no-store' })
  res.end(bytes)
}

/** Bodies at least this big are gzipped when the client accepts it (smaller ones gain little). */
const GZIP_MIN_BYTES = 1024

/** A JSON body encoded once: bytes, strong ETag, and its gzip (made on first need). */
export class JsonBody {
  readonly bytes: Buffer
  readonly etag: string
  #gzip: Buffer | undefined
  constructor (body: unknown) {
    this.bytes = Buffer.from(JSON.stringify(body))
    this.etag = `"${createHash('sha256').update(this.bytes).digest('base64url').slice(0, 27)}"`
  }

  get gzip (): Buffer { return (this.#gzip ??= gzipSync(this.bytes, { level: 6 })) }
}

/**
 * JSON for polled resources: a strong ETag of the body, 304 when the client already has it
 * (If-None-Match), gzip when accepted. A dashboard polling an unchanged status pays ~100 bytes.
 */
export function sendJsonCached (req: IncomingMessage, res: ServerResponse, body: unknown): void {
  sendBody(req, res, body instanceof JsonBody ? body : new JsonBody(body))
}

function sendBody (req: IncomingMessage, res: ServerResponse, body: JsonBody): void {
  const headers: Record<string, string | number> = { etag: body.etag, 'cache-control': 'no-cache', vary: 'accept-encoding' }
  const match = req.headers['if-none-match']
  if (match != null && match.split(',').some(t => t.trim().replace(/^W\//, '') === body.etag)) {
    res.writeHead(304, headers)
    res.end()
    return
  }
  const gzip = body.bytes.length >= GZIP_MIN_BYTES && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
  const out = gzip ? body.gzip : body.bytes
  res.writeHead(200, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': out.length, ...(gzip ? { 'content-encoding': 'gzip' } : {}) })
  res.end(out)
}

/**
 * Encoded snapshots of polled JSON, per key, reused for `ttlMs` or until invalidated. Every tab
 * polls its campaign's status every 2 s; with a thousand tabs, building, hashing and gzipping the
 * same 100 KiB body for each poll would dominate the tracker's CPU.
 */
export class JsonSnapshots {
  readonly #entries = new Map<string, { at: number, body: JsonBody }>()
  constructor (readonly ttlMs = 1000, readonly maxEntries = 1024) {}

  get (key: string, build: () => unknown, now = Date.now()): JsonBody {
    const hit = this.#entries.get(key)
    if (hit != null && now - hit.at < this.ttlMs) return hit.body
    const body = new JsonBody(build())
    this.#entries.delete(key)
    this.#entries.set(key, { at: now, body })
    if (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!)
    return body
  }

  /** Drops every snapshot whose key starts with `prefix` (state that readers must see changed). */
  invalidate (prefix: string): void {
    for (const k of this.#entries.keys()) if (k.startsWith(prefix)) this.#entries.delete(k)
  }
}

export function sendError (res: ServerResponse, err: unknown): void {
  if (err instanceof HttpError) {
    sendJson(res, err.status, { error: err.message })
    return
  }
  sendJson(res, 500, { error: 'internal error' })
}

/** Reads at most `limit` bytes; rejects (413) before buffering more, and refuses non-JSON content. */
export async function readJsonBody (req: IncomingMessage, limit = MAX_JSON_BODY_BYTES): Promise<unknown> {
  const type = req.headers['content-type'] ?? ''
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'content-type must be application/json')
  const declared = Number(req.headers['content-length'] ?? NaN)
  if (Number.isFinite(declared) && declared > limit) {
    req.resume()
    throw new PayloadTooLargeError(`body of ${declared} bytes exceeds the ${limit}-byte limit`)
  }
  const chunks: Buffer[] = []
  let size = 0
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new HttpError(408, 'request body timed out')); req.destroy() }, BODY_TIMEOUT_MS)
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        clearTimeout(timer)
        req.removeAllListeners('data')
        req.resume()
        reject(new PayloadTooLargeError(`body exceeds the ${limit}-byte limit`))
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => { clearTimeout(timer); resolve() })
    req.on('error', err => { clearTimeout(timer); reject(new BadRequestError(`request failed: ${err.message}`)) })
  })
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') throw new BadRequestError('request body is empty; expected JSON')
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new BadRequestError(`malformed JSON: ${(err as Error).message.split('\n')[0]}`)
  }
}
