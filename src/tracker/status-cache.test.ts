// Polled status: ETag revalidation, gzip, and loss deltas with ?since=.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, request, type Server } from 'node:http'
import { gunzipSync } from 'node:zlib'
import type { AddressInfo } from 'node:net'
import { JsonSnapshots, sendJsonCached } from './http-util.ts'

let server: Server
let body: unknown = { a: 1 }
let port = 0

beforeAll(async () => {
  server = createServer((req, res) => { sendJsonCached(req, res, body) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})
afterAll(async () => { await new Promise(resolve => server.close(resolve)) })

function get (headers: Record<string, string> = {}): Promise<{ status: number, headers: Record<string, unknown>, bytes: Buffer }> {
  return new Promise((resolve, reject) => {
    request({ port, host: '127.0.0.1', path: '/', headers }, res => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, bytes: Buffer.concat(chunks) }))
    }).on('error', reject).end()
  })
}

describe('sendJsonCached', () => {
  it('answers 304 with no body when the client has the current version, and 200 when it changed', async () => {
    body = { step: 3, losses: [1, 2, 3] }
    const first = await get()
    expect(first.status).toBe(200)
    const etag = String(first.headers.etag)
    expect(etag).toMatch(/^"[\w-]+"$/)
    const again = await get({ 'if-none-match': etag })
    expect(again.status).toBe(304)
    expect(again.bytes.length).toBe(0)
    body = { step: 4, losses: [1, 2, 3, 4] }
    const changed = await get({ 'if-none-match': etag })
    expect(changed.status).toBe(200)
    expect(JSON.parse(changed.bytes.toString())).toEqual(body)
  })

  it('gzips large bodies for clients that accept it, and only for them', async () => {
    body = { losses: Array.from({ length: 500 }, (_, i) => ({ step: i, loss: 5 - i / 100 })) }
    const plain = await get()
    expect(plain.headers['content-encoding']).toBeUndefined()
    const zipped = await get({ 'accept-encoding': 'br, gzip' })
    expect(zipped.headers['content-encoding']).toBe('gzip')
    expect(zipped.bytes.length).toBeLessThan(plain.bytes.length / 3)
    expect(JSON.parse(gunzipSync(zipped.bytes).toString())).toEqual(body)
  })

  it('ignores a garbage If-None-Match', async () => {
    expect((await get({ 'if-none-match': 'W/"x", garbage,, "' })).status).toBe(200)
  })
})

describe('JsonSnapshots', () => {
  it('builds once per TTL, rebuilds after invalidation, and stays bounded', () => {
    const snaps = new JsonSnapshots(1000, 3)
    let builds = 0
    const build = (): unknown => ({ n: ++builds })
    const a = snaps.get('c1/swarm', build, 0)
    expect(snaps.get('c1/swarm', build, 999)).toBe(a)
    expect(builds).toBe(1)
    expect(snaps.get('c1/swarm', build, 1000).etag).not.toBe(a.etag)
    snaps.invalidate('c1')
    snaps.get('c1/swarm', build, 1001)
    expect(builds).toBe(3)
    for (let i = 0; i < 10; i++) snaps.get(`k${i}`, build, 1001)
    // c1 was pushed out by the bound: asking again builds anew.
    snaps.get('c1/swarm', build, 1002)
    expect(builds).toBe(14)
  })
})
