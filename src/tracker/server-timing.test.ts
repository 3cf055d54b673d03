import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import { addServerTiming, serverTimingMs } from './server-timing.ts'

describe('Server-Timing', () => {
  let server: Server
  let url: string
  beforeAll(async () => {
    server = createServer((req, res) => {
      addServerTiming(res)
      // Explicit headers, implicit headers, and a slow handler.
      if (req.url === '/explicit') { res.writeHead(201, { 'content-type': 'text/plain' }); res.end('x'); return }
      if (req.url === '/slow') { setTimeout(() => { res.end('slow') }, 60); return }
      res.end('implicit')
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  })
  afterAll(async () => { await new Promise(resolve => server.close(resolve)) })

  it('reports the handler\'s time on explicit and implicit headers', async () => {
    for (const path of ['/explicit', '/implicit']) {
      const res = await fetch(url + path)
      expect(serverTimingMs(res.headers.get('server-timing') ?? undefined), path).toBeGreaterThanOrEqual(0)
    }
    const slow = serverTimingMs((await fetch(url + '/slow')).headers.get('server-timing') ?? undefined)
    expect(slow).toBeGreaterThanOrEqual(55)
  })

  it('parses only the app entry', () => {
    expect(serverTimingMs('db;dur=5, app;dur=1.25')).toBe(1.25)
    expect(serverTimingMs(undefined)).toBeNull()
    expect(serverTimingMs('cache;desc="hit"')).toBeNull()
  })
})
