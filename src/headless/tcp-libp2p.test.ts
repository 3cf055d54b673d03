// Direct connections between real libp2p nodes as headless volunteers build them (the tab's node
// plus TCP, node-datachannel WebRTC) around the tracker's own relay on 127.0.0.1: two Node
// volunteers that listen on TCP connect over TCP and the swarm's tensors and weights cross it; a
// volunteer with `--listen none`, or a TCP address that does not answer, falls back to WebRTC.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { createRelay, type RelayNode } from '../tracker/relay.ts'
import { createTabNode, directConnection, isDirect, isTcpAddr, linkTransport, type TabLibp2p } from '../net/tab-node.ts'
import { createLibp2pTransport } from '../train/swarm/libp2p-transport.ts'
import type { InboundTensor } from '../train/swarm/transport.ts'
import { tcpListening } from './node-libp2p.ts'

const CAMPAIGN = '0123456789abcdef0123456789abcdef'

/** Resolves once `node`'s peer store holds a TCP address of `peer` (from discovery or identify). */
async function knowsTcpAddr (node: TabLibp2p, peer: TabLibp2p, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const known = await node.peerStore.get(peer.peerId).catch(() => null)
    if (known?.addresses.some(a => isTcpAddr(a.multiaddr)) === true) return
    if (Date.now() > deadline) throw new Error('the peer\'s TCP address never reached the peer store')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

describe('direct connections between headless volunteers', () => {
  let relay: RelayNode
  let relayAddrs: string[]
  let a: TabLibp2p
  let b: TabLibp2p
  /** `--listen none`: no TCP transport at all, as a browser tab. */
  let c: TabLibp2p

  beforeAll(async () => {
    relay = await createRelay({ privateKey: await generateKeyPair('Ed25519') })
    relayAddrs = relay.getMultiaddrs().map(String)
    const tcp = (): ReturnType<typeof tcpListening> => tcpListening(['/ip4/127.0.0.1/tcp/0'])
    ;[a, b, c] = await Promise.all([
      createTabNode({ relayAddrs, announceIntervalMs: 250, dialable: tcp() }),
      createTabNode({ relayAddrs, announceIntervalMs: 250, dialable: tcp() }),
      createTabNode({ relayAddrs, announceIntervalMs: 250 })
    ])
  }, 30_000)

  afterAll(async () => {
    await Promise.all([a, b, c, relay].filter(n => n != null).map(async n => { await n.stop() }))
    // node-datachannel's native threads must be joined before the worker exits.
    const ndc = await import('node-datachannel') as { cleanup?: () => void, default?: { cleanup?: () => void } }
    ;(ndc.cleanup ?? ndc.default?.cleanup)?.()
  })

  it('two Node volunteers that listen on TCP connect over TCP, and tensors and weights flow over it', async () => {
    expect(a.getMultiaddrs().some(isTcpAddr)).toBe(true)
    await knowsTcpAddr(a, b)
    const conn = await directConnection(a, relayAddrs, b.peerId)
    expect(linkTransport(conn)).toBe('tcp')
    expect(isDirect(conn)).toBe(true)

    const got: InboundTensor[] = []
    const params = new Float32Array([0.5, -1, 2, 3.25])
    const ta = createLibp2pTransport({ node: a, relayAddrs, campaign: CAMPAIGN, stage: 0, shape: [1, 2, 3] })
    const tb = createLibp2pTransport({ node: b, relayAddrs, campaign: CAMPAIGN, stage: 0, shape: [1, 2, 3] })
    await tb.serve({
      maxPayloadBytes: 1 << 20,
      onTensor: t => { got.push(t) },
      onViolation: () => {},
      provideWeights: async (_req, from) => from === a.peerId.toString() ? { step: 7, params, weight: 1 } : null
    })
    try {
      const data = Float32Array.from({ length: 6 }, (_, i) => Math.sin(i))
      await ta.send(b.peerId.toString(), { microbatch: 3, kind: 'activations', optimizerStep: 7, data, meta: {} })
      expect(got).toHaveLength(1)
      expect(got[0]).toMatchObject({ microbatch: 3, kind: 'activations', from: a.peerId.toString() })
      expect(Array.from(got[0].data)).toEqual(Array.from(data))
      const w = await ta.fetchWeights(b.peerId.toString(), 'latest', 4, 10_000)
      expect(Array.from(w.params)).toEqual(Array.from(params))
      expect(ta.connected(b.peerId.toString())).toBe(true)
      // Everything went over the one TCP connection: no WebRTC connection was opened beside it.
      expect(a.getConnections(b.peerId).filter(isDirect).map(linkTransport)).toEqual(['tcp'])
      expect(b.getConnections(a.peerId).filter(isDirect).map(linkTransport)).toEqual(['tcp'])
    } finally {
      await tb.stop()
    }
  }, 30_000)

  it('a volunteer with --listen none connects over WebRTC, though its peer advertises TCP', async () => {
    await knowsTcpAddr(c, b)
    // On a loaded 2-core CI machine node-datachannel's first handshake can time out; a volunteer's
    // router dials again the same way, so the test does too, once.
    const conn = await directConnection(c, relayAddrs, b.peerId).catch(async () => await directConnection(c, relayAddrs, b.peerId))
    expect(linkTransport(conn)).toBe('webrtc')
    expect(isDirect(conn)).toBe(true)
    // The other way round, the existing WebRTC connection serves.
    expect(linkTransport(await directConnection(b, relayAddrs, c.peerId))).toBe('webrtc')
  }, 90_000)

  it('a TCP address that does not answer falls back to WebRTC', async () => {
    const s = createServer()
    await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
    const closedPort = (s.address() as AddressInfo).port
    await new Promise(resolve => s.close(resolve))
    await a.peerStore.merge(c.peerId, { multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${closedPort}`)] })
    const conn = await directConnection(a, relayAddrs, c.peerId)
    expect(linkTransport(conn)).toBe('webrtc')
  }, 45_000)

  it('a peer whose TCP address discovery has not delivered yet is asked for it, by identify through the relay', async () => {
    // As two volunteers that just joined: both compiling, neither announced anything in time.
    const d = await createTabNode({ relayAddrs, announceIntervalMs: 3_600_000, dialable: tcpListening(['/ip4/127.0.0.1/tcp/0']) })
    try {
      await d.peerStore.delete(b.peerId).catch(() => {})
      expect((await d.peerStore.get(b.peerId).catch(() => null))?.addresses.some(x => isTcpAddr(x.multiaddr)) ?? false).toBe(false)
      const conn = await directConnection(d, relayAddrs, b.peerId)
      expect(linkTransport(conn)).toBe('tcp')
    } finally {
      await d.stop()
    }
  }, 30_000)

  it('the connection to the relay is not a direct one', () => {
    const toRelay = a.getConnections(relay.peerId)
    expect(toRelay.length).toBeGreaterThan(0)
    expect(toRelay.map(linkTransport)).toEqual(toRelay.map(() => 'relayed'))
  })
})
