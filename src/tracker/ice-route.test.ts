import { describe, expect, it } from 'vitest'
import { iceResponse, turnCredential } from './ice-route.ts'

// An independent HMAC-SHA1 (WebCrypto), so the test does not just repeat the implementation.
async function hmacSha1Base64 (secret: string, text: string): Promise<string> {
  const enc = new TextEncoder()
  const key = await crypto.subtle.importKey('raw', enc.encode(secret), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign'])
  return Buffer.from(await crypto.subtle.sign('HMAC', key, enc.encode(text))).toString('base64')
}

describe('TURN credentials (coturn use-auth-secret)', () => {
  it('names the expiry in the username and signs it with the shared secret', async () => {
    const now = 1_800_000_000_500
    const c = turnCredential('s3cret-s3cret-s3cret', 3600, now)
    expect(c.username).toBe(`${1_800_000_000 + 3600}:tabgrad`)
    expect(c.expiresAt).toBe((1_800_000_000 + 3600) * 1000)
    expect(c.credential).toBe(await hmacSha1Base64('s3cret-s3cret-s3cret', c.username))
    expect(turnCredential('another-secret-xx', 3600, now).credential).not.toBe(c.credential)
  })

  it('hands out nothing (and says so) when no server is configured', () => {
    expect(iceResponse({})).toEqual({ iceServers: [], expiresAt: null, natTraversal: false })
  })

  it('lists STUN without credentials and TURN with fresh ones', () => {
    const r = iceResponse({ stun: ['stun:a.example:3478'], turn: ['turn:a.example:3478', 'turns:a.example:5349'], turnSecret: 'x'.repeat(20), turnTtlS: 60 }, 1_000_000)
    expect(r.natTraversal).toBe(true)
    expect(r.iceServers[0]).toEqual({ urls: ['stun:a.example:3478'] })
    expect(r.iceServers[1]).toMatchObject({ urls: ['turn:a.example:3478', 'turns:a.example:5349'], username: '1060:tabgrad' })
    expect(r.expiresAt).toBe(1_060_000)
  })
})
