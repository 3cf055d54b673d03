import { describe, expect, it } from 'vitest'
import type { IncomingMessage } from 'node:http'
import { clientAddress, relayAddrFor, requestOrigin } from './public-origin.ts'

const req = (headers: Record<string, string>, remoteAddress = '198.51.100.7'): IncomingMessage =>
  ({ headers, socket: { remoteAddress } }) as unknown as IncomingMessage
const fallback = 'http://127.0.0.1:8080'
const ID = '12D3KooWExample'

describe('requestOrigin', () => {
  it('prefers the configured public URL over anything a client sends', () => {
    expect(requestOrigin(req({ host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' }, '127.0.0.1'),
      { publicUrl: 'https://train.example.org', trustedProxies: ['127.0.0.1'], fallback })).toBe('https://train.example.org')
  })

  it('believes X-Forwarded-* only from a trusted proxy', () => {
    const headers = { host: '127.0.0.1:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'train.example.org' }
    expect(requestOrigin(req(headers, '10.0.0.2'), { trustedProxies: ['127.0.0.1'], fallback })).toBe('http://127.0.0.1:8080')
    expect(requestOrigin(req(headers, '127.0.0.1'), { trustedProxies: ['127.0.0.1'], fallback })).toBe('https://train.example.org')
    expect(requestOrigin(req(headers, '::ffff:127.0.0.1'), { trustedProxies: ['127.0.0.1'], fallback })).toBe('https://train.example.org')
  })

  it.each([
    ['a host with a path', { host: 'x.org/evil' }],
    ['a host with a newline', { host: 'x.org\r\nset-cookie: a' }],
    ['a port out of range', { host: 'x.org:70000' }],
    ['a user part', { host: 'user@x.org' }],
    ['an empty host', { host: '' }],
    ['a huge host', { host: 'a'.repeat(300) + '.org' }]
  ])('falls back on %s', (_what, headers) => {
    expect(requestOrigin(req(headers), { fallback })).toBe(fallback)
  })

  it('ignores a forged forwarded scheme or host even from the proxy', () => {
    expect(requestOrigin(req({ host: 'a.org', 'x-forwarded-proto': 'javascript', 'x-forwarded-host': 'b.org' }, '127.0.0.1'), { trustedProxies: ['127.0.0.1'], fallback })).toBe('http://a.org')
    expect(requestOrigin(req({ host: 'a.org', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'b.org/x' }, '127.0.0.1'), { trustedProxies: ['127.0.0.1'], fallback })).toBe('http://a.org')
  })
})

describe('relayAddrFor', () => {
  it('maps the origin to a WebSocket multiaddr on the same port', () => {
    expect(relayAddrFor('https://train.example.org', ID)).toBe(`/dns4/train.example.org/tcp/443/tls/ws/p2p/${ID}`)
    expect(relayAddrFor('https://train.example.org:8443', ID)).toBe(`/dns4/train.example.org/tcp/8443/tls/ws/p2p/${ID}`)
    expect(relayAddrFor('http://127.0.0.1:8080', ID)).toBe(`/ip4/127.0.0.1/tcp/8080/ws/p2p/${ID}`)
    expect(relayAddrFor('http://[::1]:8080', ID)).toBe(`/ip6/::1/tcp/8080/ws/p2p/${ID}`)
    expect(relayAddrFor('http://lan-box', ID)).toBe(`/dns4/lan-box/tcp/80/ws/p2p/${ID}`)
  })
})

describe('clientAddress', () => {
  it('takes the proxy\'s last X-Forwarded-For entry only from a trusted proxy', () => {
    const headers = { 'x-forwarded-for': '6.6.6.6, 198.51.100.9' }
    expect(clientAddress(req(headers, '127.0.0.1'), ['127.0.0.1'])).toBe('198.51.100.9')
    expect(clientAddress(req(headers, '10.9.9.9'), ['127.0.0.1'])).toBe('10.9.9.9')
    expect(clientAddress(req({ 'x-forwarded-for': 'not-an-ip' }, '127.0.0.1'), ['127.0.0.1'])).toBe('127.0.0.1')
  })
})
