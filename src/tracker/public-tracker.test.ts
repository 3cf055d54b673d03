// A tracker set up for the internet: one HTTP port serves app, API and the relay's WebSockets;
// tabs get the public relay address and TURN credentials; the relay frees a leaving tab's slot.
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import { createLibp2p, type Libp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { startTracker, type Tracker } from './tracker.ts'
import { signReachabilityReport } from '../net/ice-reachability.ts'
import type { TrackerConfig } from './config.ts'

if (typeof globalThis.WebSocket === 'undefined') {
  const wsModule = 'ws'
  const ws = await import(/* @vite-ignore */ wsModule) as { WebSocket: typeof WebSocket }
  Object.assign(globalThis, { WebSocket: ws.WebSocket })
}

const open: Array<Tracker | Libp2p> = []
const dirs: string[] = []

async function start (extra: Partial<TrackerConfig> = {}): Promise<Tracker> {
  const dir = await mkdtemp(join(tmpdir(), 'tabgrad-public-'))
  dirs.push(dir)
  const t = await startTracker({ host: '127.0.0.1', port: 0, relayPort: 0, dataDir: dir, staticDir: 'public', ...extra })
  open.push(t)
  return t
}

afterEach(async () => {
  await Promise.all(open.splice(0).reverse().map(async x => { await ('close' in x ? x.close() : x.stop()) }))
  await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
})

describe('tracker on a public origin', () => {
  it('hands tabs the public relay address, never a loopback one, and uses it in links', async () => {
    const t = await start({ publicUrl: 'https://train.example.org' })
    const h = await (await fetch(`${t.url}/api/health`)).json()
    expect(h.multiaddrs).toEqual([`/dns4/train.example.org/tcp/443/tls/ws/p2p/${t.relay.peerId.toString()}`])
    const { campaigns } = await (await fetch(`${t.url}/api/campaigns`)).json()
    expect(campaigns[0].link).toMatch(/^https:\/\/train\.example\.org\/#\/c\//)
    expect(t.publicUrl).toBe('https://train.example.org')
  })

  it('serves STUN and TURN with short-lived credentials on GET /api/ice', async () => {
    const t = await start({ stun: ['stun:train.example.org:3478'], turn: ['turn:train.example.org:3478'], turnSecret: 'q'.repeat(24), turnTtlS: 600 })
    const before = Date.now()
    const ice = await (await fetch(`${t.url}/api/ice`)).json()
    expect(ice.natTraversal).toBe(true)
    expect(ice.iceServers[1].username).toMatch(/^\d+:tabgrad$/)
    expect(ice.expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000)
    expect(ice.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000)
    expect((await fetch(`${t.url}/api/ice`, { method: 'POST' })).status).toBe(405)
    const bare = await start()
    expect(await (await fetch(`${bare.url}/api/ice`)).json()).toEqual({ iceServers: [], expiresAt: null, natTraversal: false })
  })

  it('carries libp2p over the HTTP port and drops a reservation when the tab leaves', async () => {
    const t = await start()
    const h = await (await fetch(`${t.url}/api/health`)).json()
    const port = new URL(t.url).port
    expect(h.multiaddrs[0]).toBe(`/ip4/127.0.0.1/tcp/${port}/ws/p2p/${t.relay.peerId.toString()}`)
    const tab = await createLibp2p({
      addresses: { listen: ['/p2p-circuit'] },
      transports: [webSockets(), circuitRelayTransport()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() },
      connectionGater: { denyDialMultiaddr: () => false }
    })
    open.push(tab)
    await tab.dial(multiaddr(h.multiaddrs[0]))
    const reserved = async (n: number): Promise<void> => {
      for (let i = 0; i < 100 && t.relay.services.relay.reservations.size !== n; i++) await new Promise(r => setTimeout(r, 50))
      expect(t.relay.services.relay.reservations.size).toBe(n)
    }
    await reserved(1)
    // The tab learns its circuit address a moment after the relay stores the reservation.
    const circuit = (): boolean => tab.getMultiaddrs().some(a => a.toString().includes(`/tcp/${port}/ws/p2p/${t.relay.peerId.toString()}/p2p-circuit`))
    for (let i = 0; i < 100 && !circuit(); i++) await new Promise(r => setTimeout(r, 50))
    expect(circuit()).toBe(true)
    await tab.stop()
    await reserved(0)
  })

  const upgrade = async (port: string, kind: string): Promise<string> => await new Promise<string>((resolve, reject) => {
    const s = connect(Number(port), '127.0.0.1', () => {
      s.write(`GET / HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: ${kind}\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`)
    })
    let text = ''
    s.on('data', d => { text += d.toString(); if (text.includes('\r\n\r\n')) { s.destroy(); resolve(text) } })
    s.on('end', () => resolve(text))
    s.on('error', reject)
  })

  it('refuses an upgrade to anything but WebSocket', async () => {
    const t = await start()
    expect(await upgrade(new URL(t.url).port, 'h2c')).toMatch(/^HTTP\/1.1 400/)
  })

  it('limits new relay connections per client address', async () => {
    const t = await start()
    const replies = await Promise.all(Array.from({ length: 12 }, async () => await upgrade(new URL(t.url).port, 'websocket')))
    expect(replies.filter(r => /^HTTP\/1.1 101/.test(r)).length).toBeGreaterThanOrEqual(5)
    expect(replies.some(r => /^HTTP\/1.1 429/.test(r))).toBe(true)
  })

  it('keeps the reachability tabs sign for, and refuses unsigned claims', async () => {
    const t = await start()
    const keyA = await generateKeyPair('Ed25519')
    const a = peerIdFromPrivateKey(keyA).toString()
    const c = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const post = async (body: unknown): Promise<number> => (await fetch(`${t.url}/api/reachability`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).status
    expect(await post(await signReachabilityReport(keyA, a, [{ peer: c, kind: 'unreachable' }]))).toBe(200)
    expect(t.reachability.kind(c, a)).toBe('unreachable')
    expect(await (await fetch(`${t.url}/api/reachability/${c}`)).json()).toEqual({ peer: c, links: [{ peer: a, kind: 'unreachable' }] })
    // c cannot speak for a, and a malformed report changes nothing.
    const forged = await signReachabilityReport(await generateKeyPair('Ed25519'), a, [{ peer: c, kind: 'direct' }])
    expect(await post(forged)).toBe(401)
    expect(await post({ peerId: a, links: 'all' })).toBe(400)
    expect(t.reachability.kind(a, c)).toBe('unreachable')
  })
})
