// A rogue peer (a Node libp2p node with WebRTC, dialling a training tab directly through the relay)
// sends a malformed header, an oversized tensor and a tensor whose payload fails its digest. Each
// is refused, the tab hangs up on the rogue, and training goes on to the end with nothing lost.
import { expect, test } from '@playwright/test'
import '../src/node/polyfills.ts'
import { createLibp2p, type Libp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { webRTC } from '@libp2p/webrtc'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { createRequire } from 'node:module'
import { runSwarm } from '../src/cli/swarm-runner.ts'
import { TENSOR_PROTOCOL } from '../src/net/constants.ts'
import { encodeFramePrefix, encodeHeader, encodeJsonRecord, MSG_NACK, MSG_TENSOR, TENSOR_VERSION, type TensorHeader } from '../src/net/tensor-wire.ts'

// Node 20 has no global WebSocket for libp2p's websockets transport; `ws` (a dev dependency) stands in.
Object.assign(globalThis, { WebSocket: (createRequire(import.meta.url)('ws') as { WebSocket: unknown }).WebSocket })

interface Outcome { reply: 'nack' | 'ack' | 'reset', error?: string }

/** Opens a tensor stream to `peer`, writes `bytes`, and reports how the tab answered. */
async function attack (rogue: Libp2p, relay: string, peer: string, bytes: Uint8Array[]): Promise<Outcome> {
  const conn = await rogue.dial(multiaddr(`${relay}/p2p-circuit/webrtc/p2p/${peer}`), { signal: AbortSignal.timeout(60_000) })
  expect(conn.limits).toBeUndefined() // direct WebRTC, as tensors must be
  const stream = await conn.newStream(TENSOR_PROTOCOL, { signal: AbortSignal.timeout(60_000) })
  for (const b of bytes) stream.send(b)
  const got: number[] = []
  try {
    for await (const chunk of stream) {
      const c = chunk instanceof Uint8Array ? chunk : chunk.subarray()
      got.push(...c)
      if (got.length >= 5 && got.length >= 5 + new DataView(Uint8Array.from(got).buffer).getUint32(1)) break
    }
  } catch { /* the tab reset the stream */ }
  if (got.length === 0) return { reply: 'reset' }
  const json = JSON.parse(new TextDecoder().decode(Uint8Array.from(got.slice(5)))) as { error?: string }
  return got[0] === MSG_NACK ? { reply: 'nack', error: json.error } : { reply: 'ack' }
}

async function hungUp (rogue: Libp2p, peer: string): Promise<void> {
  await expect.poll(() => rogue.getConnections(peerIdFromString(peer)).filter(c => c.status === 'open').length, { timeout: 30_000 }).toBe(0)
}

test('malformed, oversized and wrong-digest frames are refused and the rogue disconnected; the tab keeps training', async () => {
  test.setTimeout(400_000)
  let attacked: Promise<Outcome[]> | undefined
  let rogue: Libp2p | undefined
  const run = await runSwarm({
    tabs: 2,
    stages: 2,
    steps: 6,
    keepOpen: true,
    manifest: m => { m.training.accumulation = 2 },
    onStatus: (s, { trackerUrl, campaignId }) => {
      const target = s.stages[1].replicas[0]?.peerId
      if (attacked != null || s.step < 1 || target == null) return
      attacked = (async () => {
        rogue = await createLibp2p({
          addresses: { listen: ['/p2p-circuit', '/webrtc'] },
          transports: [webSockets(), webRTC({ rtcConfiguration: { iceServers: [] } }), circuitRelayTransport()],
          connectionEncrypters: [noise()],
          streamMuxers: [yamux()],
          connectionGater: { denyDialMultiaddr: () => false },
          services: { identify: identify() }
        })
        const health = await (await fetch(`${trackerUrl}/api/health`)).json() as { multiaddrs: string[] }
        const relay = health.multiaddrs[0]
        await rogue.dial(multiaddr(relay))
        const campaign = campaignId
        const header = (over: Partial<TensorHeader>): TensorHeader => ({
          v: TENSOR_VERSION, campaign, microbatch: 1_000_000, routeStep: 0, kind: 'activations', dtype: 'f32',
          shape: [4, 64, 64], payloadBytes: 4 * 64 * 64 * 4, sha256: '0'.repeat(64), optimizerStep: s.step, ...over
        })
        const outcomes: Outcome[] = []
        // 1. Malformed: a header that is not the protocol's JSON.
        outcomes.push(await attack(rogue, relay, target, [encodeJsonRecord(MSG_TENSOR, { hello: 'tab' })]))
        await hungUp(rogue, target)
        // 2. Oversized: 1 GiB declared, far over the campaign's limit; refused before allocation.
        outcomes.push(await attack(rogue, relay, target, [encodeHeader(header({ shape: [16384, 16384], payloadBytes: 16384 * 16384 * 4 }))]))
        await hungUp(rogue, target)
        // 3. Wrong digest: a well-formed tensor whose payload is not what its header's sha256 says.
        const payload = new Uint8Array(4 * 64 * 64 * 4).fill(7)
        outcomes.push(await attack(rogue, relay, target, [encodeHeader(header({})), encodeFramePrefix(payload.length), payload]))
        await hungUp(rogue, target)
        return outcomes
      })()
    }
  })
  try {
    expect(attacked).toBeDefined()
    // Each attack was answered, and after each the tab hung up on the rogue (hungUp fails otherwise).
    const outcomes = await attacked!
    expect(outcomes).toHaveLength(3)
    // Each was refused (a final nack naming the violation, or the stream reset), never acked.
    expect(outcomes.map(o => o.reply)).not.toContain('ack')
    const named = outcomes.filter(o => o.reply === 'nack').map(o => o.error)
    for (const e of named) expect(['MalformedFrameError', 'OversizedError', 'DigestMismatchError']).toContain(e)
    // The receiving tab kept training: the run reached its last step with every microbatch done.
    expect(run.report.steps).toHaveLength(6)
    expect(run.report.microbatches).toMatchObject({ completed: 12, lost: 0 })
  } finally {
    await rogue?.stop()
    await run.close()
  }
})
