// The tracker's doors, on the real tracker in-process: who may create campaigns and upload
// datasets, the session a SIWE sign-in starts, CSRF, rate limits, quotas and security headers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Wallet } from 'ethers'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Tracker } from '../tracker.ts'
import { testTrackers } from '../test-trackers.ts'
import { demoManifest } from '../../campaign/demo.ts'
import { buildSignInMessage } from '../../identity/siwe-message.ts'
import { signWithPeerKey } from '../../identity/sign-in.ts'
import { createDoors } from './doors.ts'
import { CONTENT_SECURITY_POLICY } from '../security-headers.ts'

const trackers = testTrackers('tabgrad-doors-')
let t: Tracker
let dir: string
beforeAll(async () => {
  dir = await trackers.dataDir()
  t = await trackers.start(dir)
})
afterAll(async () => { await trackers.cleanup() })

const manifest = (name: string): unknown => ({ ...demoManifest('c'.repeat(64), 100_000), name })
const json = { 'content-type': 'application/json' }
const createCampaign = async (headers: Record<string, string>, name = 'Doors'): Promise<Response> =>
  await fetch(`${t.url}/api/campaigns`, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify(manifest(name)) })
const upload = async (headers: Record<string, string>, body = 'hello dataset'): Promise<Response> =>
  await fetch(`${t.url}/api/datasets`, { method: 'POST', headers: { 'content-type': 'text/plain', 'x-filename': 'a.txt', ...headers }, body })
const uploadCheckpoint = async (headers: Record<string, string>): Promise<Response> =>
  await fetch(`${t.url}/api/checkpoints`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...headers }, body: 'not a safetensors file' })
const campaignCount = async (): Promise<number> => ((await (await fetch(`${t.url}/api/campaigns`)).json()) as { campaigns: unknown[] }).campaigns.length
const uploaded = async (): Promise<string[]> => await readdir(join(dir, 'datasets')).catch(() => [])

/** A researcher signs in with Ethereum as the app does; returns the session cookie the tracker set. */
async function signIn (wallet = Wallet.createRandom()): Promise<{ cookie: string, address: string }> {
  const key = await generateKeyPair('Ed25519')
  const { nonce } = await (await fetch(`${t.url}/api/siwe/nonce`)).json() as { nonce: string }
  const message = buildSignInMessage({ address: wallet.address, peerId: peerIdFromPrivateKey(key).toString(), nonce, origin: t.url })
  const res = await fetch(`${t.url}/api/siwe/verify`, { method: 'POST', headers: json, body: JSON.stringify({ message, signature: await wallet.signMessage(message), peerSignature: await signWithPeerKey(key, message) }) })
  expect(res.status).toBe(200)
  const set = res.headers.get('set-cookie') ?? ''
  expect(set).toMatch(/HttpOnly/)
  expect(set).toMatch(/SameSite=Strict/)
  return { cookie: set.split(';')[0], address: wallet.address }
}

describe('doors', () => {
  it('an anonymous or forged caller creates nothing and uploads nothing (401)', async () => {
    const before = await campaignCount()
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer not-the-token' }, { authorization: `Bearer ${t.adminToken}x` }, { cookie: 'tabgrad_session=forged' }]) {
      const res = await createCampaign(headers)
      expect(res.status, JSON.stringify(headers)).toBe(401)
      expect((await res.json() as { error: string }).error).toMatch(/^[^\n]+$/)
      expect((await upload(headers)).status).toBe(401)
      expect((await uploadCheckpoint(headers)).status).toBe(401)
    }
    expect(await campaignCount()).toBe(before)
    expect(await uploaded()).toEqual([])
    expect(await readdir(join(dir, 'checkpoints')).catch(() => [])).toEqual([])
  })

  it('a checkpoint upload passes the door with the admin token (then the checkpoint itself is checked)', async () => {
    const res = await uploadCheckpoint({ authorization: `Bearer ${t.adminToken}` })
    expect(res.status).toBe(400) // past the door: refused for the missing x-model-config, not 401
    expect((await res.json() as { error: string }).error).toMatch(/x-model-config/)
  })

  it('the operator creates with the admin token, or signs a browser in with the printed link', async () => {
    expect((await createCampaign({ authorization: `Bearer ${t.adminToken}` }, 'By the operator')).status).toBe(201)
    expect((await fetch(`${t.url}/api/admin/login?token=wrong`, { redirect: 'manual' })).status).toBe(401)
    const login = await fetch(`${t.url}/api/admin/login?token=${t.adminToken}`, { redirect: 'manual' })
    expect(login.status).toBe(303)
    expect(login.headers.get('location')).toBe('/#/new')
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]
    expect(await (await fetch(`${t.url}/api/session`, { headers: { cookie } })).json()).toEqual({ signedIn: true, kind: 'admin' })
    expect((await upload({ cookie }, 'operator data')).status).toBe(201)
  })

  it('a researcher signed in with Ethereum creates and uploads; the session ends on sign-out', async () => {
    const { cookie, address } = await signIn()
    expect(await (await fetch(`${t.url}/api/session`, { headers: { cookie } })).json()).toEqual({ signedIn: true, kind: 'researcher', address })
    expect((await createCampaign({ cookie }, 'By a researcher')).status).toBe(201)
    expect((await upload({ cookie }, 'researcher data')).status).toBe(201)
    await fetch(`${t.url}/api/session`, { method: 'DELETE', headers: { cookie } })
    expect((await createCampaign({ cookie }, 'After sign-out')).status).toBe(401)
  })

  it('a cookie riding a request from another site is refused (CSRF): 403, nothing created', async () => {
    const { cookie } = await signIn()
    const before = await campaignCount()
    expect((await createCampaign({ cookie, origin: 'http://evil.example' }, 'CSRF')).status).toBe(403)
    expect((await createCampaign({ cookie, origin: 'null' }, 'CSRF')).status).toBe(403)
    expect((await upload({ cookie, origin: 'http://127.0.0.1:1' }, 'csrf')).status).toBe(403)
    expect(await campaignCount()).toBe(before)
    expect((await createCampaign({ cookie, origin: t.url }, 'Same origin')).status).toBe(201)
  })

  it('upload spam: a researcher is rate limited (429 with Retry-After) and the files stop', async () => {
    const { cookie } = await signIn()
    const codes: number[] = []
    for (let i = 0; i < 7; i++) codes.push((await upload({ cookie }, `spam ${i}`)).status)
    expect(codes.slice(0, 5)).toEqual([201, 201, 201, 201, 201])
    expect(codes.slice(5)).toEqual([429, 429])
    const res = await upload({ cookie }, 'one more')
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await uploaded()).filter(f => f.endsWith('.txt')).length).toBeLessThan(12)
    // Another researcher is not held back by the first one's limit.
    expect((await upload({ cookie: (await signIn()).cookie }, 'someone else')).status).toBe(201)
  })

  it('campaign spam: the burst, then 429', async () => {
    const { cookie } = await signIn()
    const codes: number[] = []
    for (let i = 0; i < 11; i++) codes.push((await createCampaign({ cookie }, `Spam ${i}`)).status)
    expect(codes.filter(c => c === 201)).toHaveLength(10)
    expect(codes.at(-1)).toBe(429)
  })

  it('every response carries the security headers: app, API, errors, datasets', async () => {
    for (const path of ['/', '/api/health', '/api/campaigns/nope', '/no-such-file', '/datasets/sotu-excerpt.txt']) {
      const res = await fetch(t.url + path)
      expect(res.headers.get('content-security-policy'), path).toBe(CONTENT_SECURITY_POLICY)
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff')
      expect(res.headers.get('x-frame-options'), path).toBe('DENY')
      expect(res.headers.get('referrer-policy'), path).toBe('no-referrer')
    }
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'")
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/'unsafe-eval'/)
  })
})

describe('doors without a server', () => {
  const req = (headers: Record<string, string>): IncomingMessage => ({ headers, socket: {}, url: '/' }) as unknown as IncomingMessage
  const res = (): ServerResponse & { headers: Record<string, string> } => {
    const headers: Record<string, string> = {}
    return Object.assign({ setHeader: (k: string, v: string) => { headers[k] = v } }, { headers }) as never
  }

  it('an allow-list keeps other signed-in addresses out; quotas cap campaigns per researcher', async () => {
    const alice = Wallet.createRandom().address
    const bob = Wallet.createRandom().address
    let now = 0
    const doors = createDoors({ adminToken: 'a'.repeat(32), researchers: [alice], limits: { maxCampaignsPerResearcher: 2, campaignBurst: 100 }, now: () => now })
    const cookieFor = (address: string): string => {
      const r = res()
      doors.signedIn(req({}), r, address)
      return r.headers['set-cookie'].split(';')[0]
    }
    const asBob = req({ cookie: cookieFor(bob) })
    expect(() => doors.admit(asBob, res(), 'campaign')).toThrow(expect.objectContaining({ status: 403 }))
    const asAlice = req({ cookie: cookieFor(alice) })
    doors.admit(asAlice, res(), 'campaign').done()
    doors.admit(asAlice, res(), 'campaign').done()
    expect(() => doors.admit(asAlice, res(), 'campaign')).toThrow(expect.objectContaining({ status: 403, message: expect.stringMatching(/quota/) }))
    // The admin is exempt; upload bytes per day are capped and reset the next day.
    expect(doors.admit(req({ authorization: `Bearer ${'a'.repeat(32)}` }), res(), 'campaign').who).toEqual({ kind: 'admin' })
    const big = req({ cookie: asAlice.headers.cookie!, 'content-length': String(300 * 1024 * 1024) })
    doors.admit(big, res(), 'upload')
    const r = res()
    expect(() => doors.admit(big, r, 'upload')).toThrow(expect.objectContaining({ status: 403 }))
    expect(r.headers.connection).toBe('close')
    now += 86_400_000
    expect(() => doors.admit(big, res(), 'upload')).toThrow(expect.objectContaining({ status: 401 })) // the 12 h session ended
  })
})
