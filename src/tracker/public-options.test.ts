import { describe, expect, it } from 'vitest'
import { parseTrackerConfig } from './config.ts'

const SECRET = 'abcdefghijklmnop0123'

describe('public tracker options', () => {
  it('takes a public URL, STUN, TURN with its secret and trusted proxies from flags or the environment', () => {
    const c = parseTrackerConfig(['--public-url', 'https://Train.Example.org/', '--stun', 'stun:train.example.org:3478',
      '--turn', 'turn:train.example.org:3478?transport=udp, turns:train.example.org:5349', '--turn-secret', SECRET, '--trusted-proxy', '127.0.0.1,::1'], {})
    expect(c).toMatchObject({
      publicUrl: 'https://train.example.org',
      stun: ['stun:train.example.org:3478'],
      turn: ['turn:train.example.org:3478?transport=udp', 'turns:train.example.org:5349'],
      turnSecret: SECRET,
      trustedProxies: ['127.0.0.1', '::1']
    })
    expect(c.turnTtlS).toBeGreaterThan(0)
    const e = parseTrackerConfig([], { TABGRAD_PUBLIC_URL: 'https://t.example:8443', TABGRAD_TURN: 'turn:1.2.3.4', TABGRAD_TURN_SECRET: SECRET })
    expect(e).toMatchObject({ publicUrl: 'https://t.example:8443', turn: ['turn:1.2.3.4'] })
    expect(parseTrackerConfig([], {}).publicUrl).toBeUndefined()
    expect(parseTrackerConfig([], {}).stun).toBeUndefined()
  })

  it.each([
    [['--public-url', 'ftp://x.org'], /must start with https/],
    [['--public-url', 'https://x.org/campaign'], /origin only/],
    [['--public-url', 'https://x.org/?a=1'], /origin only/],
    [['--public-url', 'https://user:pw@x.org'], /user name or password/],
    [['--public-url', 'not a url'], /not a URL/],
    [['--stun', 'http://x.org'], /not a STUN URL/],
    [['--stun', 'stun:x.org:99999'], /not a STUN URL/],
    [['--stun', 'stun:x.org\r\nInjected: 1'], /not a STUN URL/],
    [['--stun', ' , '], /empty value/],
    [['--stun', Array(17).fill('stun:a.b').join(',')], /at most 16/],
    [['--turn', 'turn:x.org?transport=sctp', '--turn-secret', SECRET], /not a TURN URL/],
    [['--turn', 'turn:x.org'], /needs --turn-secret/],
    [['--turn-secret', SECRET], /without --turn/],
    [['--turn', 'turn:x.org', '--turn-secret', 'short'], /at least 16/],
    [['--turn', 'turn:x.org', '--turn-secret', 'with space in the secret'], /whitespace/],
    [['--trusted-proxy', 'proxy.local'], /not an IP address/]
  ])('rejects %j with a one-line reason and the usage', (argv, message) => {
    let err: Error | undefined
    try { parseTrackerConfig(argv as string[], {}) } catch (e) { err = e as Error }
    expect(err?.name).toBe('ConfigError')
    expect(err?.message).toMatch(message)
    expect(err?.message).toMatch(/usage:/)
  })
})
