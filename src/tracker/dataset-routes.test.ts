// The dataset upload/download routes behind a real HTTP server, wired the way the tracker mounts them.
import { afterEach, describe, expect, it } from 'vitest'
import { createServer, request, type Server } from 'node:http'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { handleDatasetRoute, type DatasetRouteInit } from './dataset-routes.ts'
import { NotFoundError } from './errors.ts'
import { sendError } from './http-util.ts'
import { loadTokenizer } from '../tokenizer/tokenizer.ts'

const servers: Server[] = []
const dirs: string[] = []

afterEach(async () => {
  await Promise.all(servers.splice(0).map(async s => { s.closeAllConnections(); await new Promise(resolve => s.close(resolve)) }))
  await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
})

async function start (init: Partial<DatasetRouteInit> = {}): Promise<{ url: string, dataDir: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tabgrad-datasets-'))
  dirs.push(dataDir)
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    handleDatasetRoute(req, res, path, { dataDir, ...init }).then(handled => {
      // What the tracker's static server does for files it does not have.
      if (!handled) sendError(res, new NotFoundError())
    }, () => { res.destroy() })
  })
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, dataDir }
}

async function upload (url: string, body: Uint8Array<ArrayBuffer> | string, headers: Record<string, string> = {}): Promise<{ status: number, json: any }> {
  const res = await fetch(`${url}/api/datasets`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream', 'x-filename': 'corpus.txt', ...headers },
    body
  })
  return { status: res.status, json: await res.json() }
}

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex')

async function stored (dataDir: string): Promise<string[]> {
  return await readdir(join(dataDir, 'datasets')).catch(() => [])
}

describe('dataset routes', () => {
  it('stores an upload under its sha256 and serves the same bytes back', async () => {
    const { url, dataDir } = await start()
    const text = 'It was the best of times, it was the worst of times. '.repeat(1000)
    const { status, json } = await upload(url, text, { 'content-type': 'text/plain; charset=utf-8' })
    expect(status).toBe(201)
    expect(json).toEqual({ url: `/datasets/${sha(text)}.txt`, sha256: sha(text), bytes: text.length, format: 'bytes' })
    expect(await stored(dataDir)).toEqual([`${sha(text)}.txt`])
    expect((await readFile(join(dataDir, 'datasets', `${sha(text)}.txt`))).toString()).toBe(text)

    const res = await fetch(url + json.url)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    expect(await res.text()).toBe(text)
  })

  it('treats a .bin upload as uint16 tokens and rejects an odd length', async () => {
    const { url, dataDir } = await start()
    const tokens = new Uint8Array(new Uint16Array([1, 2, 300, 65535]).buffer)
    const ok = await upload(url, tokens, { 'x-filename': encodeURIComponent('tokens ü.bin') })
    expect(ok.status).toBe(201)
    expect(ok.json).toMatchObject({ url: `/datasets/${sha(tokens)}.bin`, sha256: sha(tokens), bytes: 8, format: 'uint16' })
    const back = new Uint8Array(await (await fetch(url + ok.json.url)).arrayBuffer())
    expect(back).toEqual(tokens)

    const odd = await upload(url, new Uint8Array(3), { 'x-filename': 'odd.bin' })
    expect(odd.status).toBe(400)
    expect(await stored(dataDir)).toEqual([`${sha(tokens)}.bin`])
  })

  it('refuses an oversized upload with 413 and writes nothing', async () => {
    const { url, dataDir } = await start({ maxBytes: 1024 })
    const big = await upload(url, new Uint8Array(4096))
    expect(big.status).toBe(413)
    expect(big.json.error).toMatch(/limit/)
    expect(await stored(dataDir)).toEqual([])
  })

  it('refuses an oversized chunked upload (no content-length) mid-stream and removes the partial file', async () => {
    const { url, dataDir } = await start({ maxBytes: 64 * 1024 })
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${url}/api/datasets`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-filename': 'big.txt' } }, res => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      // Chunked transfer: the server only learns the size as the bytes arrive.
      const chunk = Buffer.alloc(16 * 1024, 97)
      let sent = 0
      const pump = (): void => {
        while (sent < 16 && req.write(chunk)) sent++
        if (sent < 16) req.once('drain', () => { sent++; pump() })
        else req.end()
      }
      pump()
    })
    expect(status).toBe(413)
    // The temporary file is removed once the route has answered.
    await expect.poll(async () => await stored(dataDir)).toEqual([])
  })

  it('answers 400 for an empty body or a missing filename, 415 for other content types', async () => {
    const { url, dataDir } = await start()
    const empty = await upload(url, '')
    expect(empty.status).toBe(400)
    expect(empty.json.error).toMatch(/empty/)
    const unnamed = await fetch(`${url}/api/datasets`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'abc' })
    expect(unnamed.status).toBe(400)
    expect((await upload(url, 'abc', { 'content-type': 'application/json' })).status).toBe(415)
    expect(await stored(dataDir)).toEqual([])
  })

  it('serves only hex names: other names and missing files are 404, and GET /api/datasets is 405', async () => {
    const { url } = await start()
    const text = 'hello tokens'
    await upload(url, text)
    for (const path of [
      `/datasets/${sha(text)}.bin`, // right digest, wrong extension
      `/datasets/${'0'.repeat(64)}.txt`, // well-formed but absent
      `/datasets/${sha(text).toUpperCase()}.txt`,
      `/datasets/${sha(text)}.txt.tmp`,
      '/datasets/..%2F..%2Fetc%2Fpasswd',
      `/datasets/${sha(text)}%2Etxt`, // percent-encoded names are not decoded
      '/datasets/.upload-0000000000000000.tmp'
    ]) {
      const res = await fetch(url + path)
      expect(res.status, path).toBe(404)
      await res.body?.cancel()
    }
    expect((await fetch(`${url}/api/datasets`)).status).toBe(405)
  })

  it('tokenizes uploaded text with GPT-2 in a worker thread, with progress, into a content-addressed token file', async () => {
    const { url } = await start()
    const text = 'Fellow-Citizens of the Senate and House of Representatives: 日本語 👋\n'.repeat(3000)
    const res = await upload(url, text, { 'x-tokenizer': 'gpt2' })
    expect(res.status).toBe(202)
    expect(res.json.text).toMatchObject({ sha256: sha(text), format: 'bytes' })
    let job = res.json.job
    for (let i = 0; i < 300 && job.status === 'running'; i++) {
      await new Promise(resolve => setTimeout(resolve, 50))
      job = await (await fetch(`${url}/api/datasets/jobs/${job.id as string}`)).json()
    }
    expect(job.status, job.error).toBe('done')
    expect(job.done).toBe(job.total)
    const ids = (await loadTokenizer('gpt2')).encode(text)
    expect(job.dataset).toMatchObject({ format: 'uint16', tokenizer: 'gpt2', bytes: 2 * (ids.length + 1) })
    const bin = new Uint8Array(await (await fetch(url + (job.dataset.url as string))).arrayBuffer())
    expect(sha(bin)).toBe(job.dataset.sha256)
    const got = new Uint16Array(bin.buffer, bin.byteOffset, bin.byteLength / 2)
    expect(got[0]).toBe(50256) // the document starts with <|endoftext|>
    expect(Array.from(got.subarray(1))).toEqual(Array.from(ids))
    const meta = await (await fetch(`${url}${job.dataset.url as string}.json`)).json()
    expect(meta).toMatchObject({ tokenizer: 'gpt2', tokens: ids.length + 1, sha256: job.dataset.sha256 })
  })

  it('checks a .bin upload against the named tokenizer\'s vocabulary and refuses text that is not UTF-8', async () => {
    const { url } = await start()
    const ok = new Uint8Array(new Uint16Array([1, 2, 50256, 7]).buffer)
    const good = await upload(url, ok, { 'x-filename': 'ok.bin', 'x-tokenizer': 'gpt2' })
    expect(good.status).toBe(201)
    expect(good.json).toMatchObject({ tokenizer: 'gpt2', format: 'uint16', sha256: sha(ok) })
    const bad = await upload(url, new Uint8Array(new Uint16Array([1, 50257, 60000]).buffer), { 'x-filename': 'bad.bin', 'x-tokenizer': 'gpt2' })
    expect(bad.status).toBe(400)
    expect(bad.json.error).toMatch(/2 token ids are ≥ the vocabulary \(50257\), the first is 50257 at token 1/)
    expect((await upload(url, 'abc', { 'x-tokenizer': 'gpt5' })).status).toBe(400)

    const latin1 = await upload(url, new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x0a]), { 'x-tokenizer': 'gpt2' })
    let job = latin1.json.job
    for (let i = 0; i < 200 && job.status === 'running'; i++) {
      await new Promise(resolve => setTimeout(resolve, 50))
      job = await (await fetch(`${url}/api/datasets/jobs/${job.id as string}`)).json()
    }
    expect(job).toMatchObject({ status: 'error', error: 'the text is not valid UTF-8', dataset: null })
  })
})
