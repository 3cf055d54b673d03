import { describe, expect, it } from 'vitest'
import { createIceSource, parseIceConfig } from './ice.ts'

const turnBody = (expiresAt: number, credential: string): unknown => ({
  iceServers: [{ urls: ['stun:t.example:3478'] }, { urls: ['turn:t.example:3478'], username: `${expiresAt / 1000}:tabgrad`, credential }],
  expiresAt,
  natTraversal: true
})

function fakeFetch (bodies: unknown[]): typeof fetch & { calls: number } {
  const f = (async () => {
    const body = bodies[Math.min(f.calls, bodies.length - 1)]
    f.calls++
    return new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json' } })
  }) as unknown as typeof fetch & { calls: number }
  f.calls = 0
  return f
}

describe('parseIceConfig', () => {
  it('accepts the tracker\'s answer', () => {
    const c = parseIceConfig(turnBody(3_600_000, 'abc='))
    expect(c.natTraversal).toBe(true)
    expect(c.iceServers[1]).toEqual({ urls: ['turn:t.example:3478'], username: '3600:tabgrad', credential: 'abc=' })
  })

  it.each([
    ['not an object', 'x'],
    ['no server list', { expiresAt: null }],
    ['too many servers', { iceServers: Array(17).fill({ urls: ['stun:a'] }), expiresAt: null }],
    ['a non-ICE scheme', { iceServers: [{ urls: ['https://evil.example'] }], expiresAt: null }],
    ['an empty url list', { iceServers: [{ urls: [] }], expiresAt: null }],
    ['a credential without a username', { iceServers: [{ urls: ['turn:a'], credential: 'x' }], expiresAt: null }],
    ['a huge credential', { iceServers: [{ urls: ['turn:a'], username: 'u', credential: 'x'.repeat(600) }], expiresAt: null }],
    ['a bad expiry', { iceServers: [], expiresAt: 'soon' }]
  ])('refuses %s', (_what, body) => {
    expect(() => parseIceConfig(body)).toThrow(expect.objectContaining({ name: 'IceConfigError' }))
  })
})

describe('createIceSource', () => {
  it('gives an empty set (same-network only) when the tracker has no route', async () => {
    const f = (async () => new Response('{"error":"no"}', { status: 404 })) as unknown as typeof fetch
    const src = await createIceSource({ fetch: f })
    expect(src.current.natTraversal).toBe(false)
    expect(await src.rtcConfiguration()).toEqual({ iceServers: [] })
    src.stop()
  })

  it('fetches new TURN credentials before the old ones expire', async () => {
    let now = 0
    const f = fakeFetch([turnBody(3_600_000, 'first'), turnBody(7_200_000, 'second')])
    const src = await createIceSource({ fetch: f, now: () => now, refreshMarginMs: 600_000 })
    expect((await src.rtcConfiguration()).iceServers?.[1].credential).toBe('first')
    now = 2_000_000 // well before expiry: no new fetch
    expect((await src.rtcConfiguration()).iceServers?.[1].credential).toBe('first')
    expect(f.calls).toBe(1)
    now = 3_000_001 // inside the refresh margin
    expect((await src.rtcConfiguration()).iceServers?.[1].credential).toBe('second')
    expect(f.calls).toBe(2)
    src.stop()
  })

  it('keeps the old set when a refresh fails', async () => {
    let now = 0
    let calls = 0
    const f = (async () => {
      calls++
      if (calls > 1) throw new Error('offline')
      return new Response(JSON.stringify(turnBody(3_600_000, 'first')))
    }) as unknown as typeof fetch
    const src = await createIceSource({ fetch: f, now: () => now })
    now = 3_500_000
    expect((await src.rtcConfiguration()).iceServers?.[1].credential).toBe('first')
    expect(calls).toBe(2)
    src.stop()
  })
})
