// The tensor protocol between two real libp2p nodes (WebSockets + noise + yamux on 127.0.0.1):
// the registered handler, multistream negotiation, yamux windows and real backpressure. Browsers
// use WebRTC instead of WebSockets; the protocol above the stream is the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Libp2p } from 'libp2p'
import { testNode as node } from './test-node.ts'
import type { Connection } from '@libp2p/interface'
import { TENSOR_PROTOCOL } from './constants.ts'
import { sendAll } from './byte-stream.ts'
import { sendTensor, TensorReader, tensorProtocol, type ReceivedTensor, type TensorProtocol } from './tensor-stream.ts'
import { encodeJsonRecord, MSG_TENSOR, type TensorMessage } from './tensor-wire.ts'

const CAMPAIGN = '0123456789abcdef0123456789abcdef'
const SINK_PROTOCOL = '/tabgrad-test/sink/1.0.0'


function tensor (shape: number[], microbatch: number): TensorMessage {
  const n = shape.reduce((a, b) => a * b, 1)
  const data = new Float32Array(n)
  for (let i = 0; i < n; i++) data[i] = Math.sin(i * 0.37 + microbatch)
  return { campaign: CAMPAIGN, microbatch, routeStep: 0, kind: 'activations', optimizerStep: 0, shape, data }
}

function same (a: Float32Array | Uint32Array, b: Float32Array | Uint32Array): boolean {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length)
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length)
  return x.length === y.length && x.every((v, i) => v === y[i])
}

describe('tensor protocol between two libp2p nodes', () => {
  let receiver: Libp2p
  let sender: Libp2p
  let protocol: TensorProtocol
  let conn: Connection
  const got: ReceivedTensor[] = []
  const violations: Array<[string, string]> = []
  let hold: Promise<void> = Promise.resolve()

  beforeAll(async () => {
    receiver = await node(true)
    sender = await node(false)
    protocol = await tensorProtocol(receiver, {
      campaign: CAMPAIGN,
      onTensor: async t => { got.push(t); await hold },
      onViolation: (peer, err) => { violations.push([peer, err.name]) }
    })
    // A bare sink for the baseline: read n bytes (u32 BE length first), answer one byte.
    await receiver.handle(SINK_PROTOCOL, async stream => {
      const reader = new TensorReader(stream)
      const n = new DataView((await reader.read(4)).buffer).getUint32(0)
      await reader.read(n)
      stream.send(new Uint8Array([1]))
      await stream.close()
    })
    conn = await sender.dial(receiver.getMultiaddrs()[0])
  })

  afterAll(async () => {
    await protocol?.stop()
    await sender?.stop()
    await receiver?.stop()
  })

  it('delivers tensors bit-exactly, one stream per tensor and over a long-lived stream', async () => {
    got.length = 0
    const a = tensor([3, 1000, 7], 1)
    const b = tensor([MAX_MIB(5) / 4 + 1], 2) // 5 MiB + 4 bytes: six frames, more than yamux's window
    await sendTensor(conn, a)
    await sendTensor(conn, b)
    const stream = await conn.newStream(TENSOR_PROTOCOL)
    await sendTensor(stream, { ...a, microbatch: 3 })
    await sendTensor(stream, { ...b, microbatch: 4 })
    await stream.close()
    expect(got.map(t => t.microbatch)).toEqual([1, 2, 3, 4])
    expect(got.map(t => t.from)).toEqual(Array(4).fill(sender.peerId.toString()))
    expect([same(got[0].data, a.data), same(got[1].data, b.data), same(got[2].data, a.data), same(got[3].data, b.data)]).toEqual([true, true, true, true])
  })

  it('drops a violating stream, tells the hook, and keeps serving', async () => {
    violations.length = 0
    const bad = await conn.newStream(TENSOR_PROTOCOL)
    bad.send(encodeJsonRecord(MSG_TENSOR, { v: 1, campaign: CAMPAIGN, surprise: true }))
    for await (const _ of bad) { /* the nack, then the reset */ }
    await expect.poll(() => violations).toEqual([[sender.peerId.toString(), 'MalformedFrameError']])
    const t = tensor([4, 4], 9)
    await sendTensor(conn, t)
    expect(got.at(-1)?.microbatch).toBe(9)
  })

  it('reaches the sender of a refused tensor as a typed NackError', async () => {
    const err = await sendTensor(conn, { ...tensor([4, 4], 10), campaign: 'f'.repeat(32) }).then(() => undefined, (e: unknown) => e as Error & { reason?: string })
    expect([err?.name, err?.reason]).toEqual(['NackError', 'WrongCampaignError'])
    await sendTensor(conn, tensor([4, 4], 11))
    expect(got.at(-1)?.microbatch).toBe(11)
  })

  it('holds back a sender that floods instead of waiting for its ack (yamux window stays closed while paused)', async () => {
    violations.length = 0
    got.length = 0
    let release = (): void => {}
    hold = new Promise<void>(resolve => { release = resolve })
    const stream = await conn.newStream(TENSOR_PROTOCOL)
    const pending = sendTensor(stream, tensor([8, 8], 20))
    await expect.poll(() => got.length).toBe(1)
    for (let i = 0; i < 8; i++) stream.send(new Uint8Array(1024 * 1024)) // 8 MiB without waiting
    await new Promise(resolve => setTimeout(resolve, 300))
    // The receiver stopped granting window while it was busy: most of the flood is still queued here.
    expect(stream.writeBufferLength).toBeGreaterThan(4 * 1024 * 1024)
    release()
    hold = Promise.resolve()
    await pending
    await expect.poll(() => violations).toEqual([[sender.peerId.toString(), 'MalformedFrameError']])
  })

  it('measures throughput: stream per tensor vs long-lived stream', async () => {
    got.length = 0
    const t = tensor([4, 256, 1024], 0) // (B, T, C) = 4 MiB of f32 activations
    const n = 10
    const mb = t.data.byteLength / 1e6
    let t0 = performance.now()
    for (let i = 0; i < n; i++) await sendTensor(conn, { ...t, microbatch: i })
    const perTensor = (performance.now() - t0) / n
    const stream = await conn.newStream(TENSOR_PROTOCOL)
    t0 = performance.now()
    for (let i = 0; i < n; i++) await sendTensor(stream, { ...t, microbatch: n + i })
    const longLived = (performance.now() - t0) / n
    await stream.close()
    // Baseline: the same bytes on a bare stream (no header, frames, digests or ack checks).
    const bytes = new Uint8Array(t.data.buffer)
    t0 = performance.now()
    for (let i = 0; i < n; i++) {
      const s = await conn.newStream(SINK_PROTOCOL)
      const len = new Uint8Array(4)
      new DataView(len.buffer).setUint32(0, bytes.length)
      s.send(len)
      await sendAll(s, bytes, 1024 * 1024)
      await new TensorReader(s).read(1)
      await s.close()
    }
    const raw = (performance.now() - t0) / n
    const rate = (ms: number): string => `${ms.toFixed(1)} ms (${(mb / ms * 1000).toFixed(0)} MB/s)`
    console.info(`tensor over libp2p ws+noise+yamux (127.0.0.1), ${mb.toFixed(1)} MB tensors: stream per tensor ${rate(perTensor)}, long-lived stream ${rate(longLived)}, bare stream baseline ${rate(raw)}`)
    expect(got.length).toBe(2 * n)
  })
})

function MAX_MIB (n: number): number {
  return n * 1024 * 1024
}
