// Serves the built app (dist/). Paths are resolved inside the root only; unknown files 404.
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { extname, join, normalize, resolve, sep } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { NotFoundError } from './errors.ts'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.bin': 'application/octet-stream',
  '.map': 'application/json; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8'
}

export async function serveStatic (root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x')
  let rel: string
  try {
    rel = decodeURIComponent(url.pathname)
  } catch {
    throw new NotFoundError()
  }
  if (rel.endsWith('/')) rel += 'index.html'
  const base = resolve(root)
  const path = resolve(join(base, normalize(rel)))
  if (path !== base && !path.startsWith(base + sep)) throw new NotFoundError()
  const info = await stat(path).catch(() => null)
  if (info == null || !info.isFile()) throw new NotFoundError(`no such file: ${url.pathname}`)
  res.writeHead(200, {
    'content-type': TYPES[extname(path)] ?? 'application/octet-stream',
    'content-length': info.size,
    // Hashed assets are immutable; everything else revalidates.
    'cache-control': rel.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    // Cross-origin isolation lets onnxruntime-web use threads and SharedArrayBuffer.
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-embedder-policy': 'require-corp'
  })
  if (req.method === 'HEAD') { res.end(); return }
  createReadStream(path).pipe(res)
}
