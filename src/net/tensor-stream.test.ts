import { describe, expect, it } from 'vitest'
import type { Connection, Stream } from '@libp2p/interface'
import { MAX_FRAME_BYTES } from './constants.ts'
import { sha256, toHex } from './byte-stream.ts'
import { memoryStreamPair, type MemoryStream, type MemoryStreamPairInit } from './memory-stream.ts'
import { handleTensorStream, ReceiveBudget, sendTensor, TensorReader, type ReceivedTensor, type TensorHandlerInit, type TensorStreamSummary } from './tensor-stream.ts'
import {
  decodeReply, encodeFramePrefix, encodeHeader, encodeJsonRecord, headerOf, MSG_TENSOR, payloadOf, PREFIX_BYTES,
  recordLength, type Reply, type TensorHeader, type TensorMessage
} from './tensor-wire.ts'

const CAMPAIGN = '0123456789abcdef0123456789abcdef'
const PEER = '12D3KooWSender'

// ---- helpers

/** Random bits reinterpreted as f32: NaNs, infinities, -0 and denormals all occur, so equality must be bit-exact. */
function randomTensor (shape: number[], microbatch = 1, dtype: 'f32' | 'u32' = 'f32'): TensorMessage {
  const n = shape.reduce((a, b) => a * b, 1)
  const bits = new Uint32Array(n)
  for (let i = 0; i < n; i++) bits[i] = (Math.random() * 2 ** 32) >>> 0
  if (n > 3) { bits[0] = 0x80000000; bits[1] = 0x7fc00001; bits[2] = 0x00000001 }
  return { campaign: CAMPAIGN, microbatch, routeStep: 1, kind: 'activations', optimizerStep: 5, shape, data: dtype === 'f32' ? new Float32Array(bits.buffer) : bits }
}

function bitsOf (data: Float32Array | Uint32Array): Uint32Array {
  return new Uint32Array(data.buffer, data.byteOffset, data.length)
}

/** Bit-exact equality (vitest's deep equality is slow on million-element arrays). */
function sameBits (a: Float32Array | Uint32Array, b: Float32Array | Uint32Array): boolean {
  const x = bitsOf(a)
  const y = bitsOf(b)
  if (x.length !== y.length) return false
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false
  return true
}

interface Receiver {
  got: ReceivedTensor[]
  violations: Array<[string, Error]>
  init: TensorHandlerInit
}

function receiver (overrides: Partial<TensorHandlerInit> = {}): Receiver {
  const r: Receiver = {
    got: [],
    violations: [],
    init: {
      campaign: CAMPAIGN,
      maxPayloadBytes: 16 * MAX_FRAME_BYTES,
      onTensor: t => { r.got.push(t) },
      onViolation: (peer, err) => { r.violations.push([peer, err]) },
      ...overrides
    }
  }
  return r
}

/** A connected pair whose inbound end is already being served. */
function serve (r: Receiver, opts: MemoryStreamPairInit = {}, peer = PEER): { out: MemoryStream, inb: MemoryStream, done: Promise<TensorStreamSummary> } {
  const [out, inb] = memoryStreamPair(opts)
  const done = handleTensorStream(inb as unknown as Stream, peer, r.init)
  return { out, inb, done }
}

function asStream (s: MemoryStream): Stream {
  return s as unknown as Stream
}

/** A fake connection whose every new stream is served by `r`, as libp2p would do with a registered handler. */
function connectionTo (r: Receiver, opts: MemoryStreamPairInit = {}): Connection & { summaries: Array<Promise<TensorStreamSummary>> } {
  const summaries: Array<Promise<TensorStreamSummary>> = []
  return {
    summaries,
    remotePeer: { toString: () => 'receiver' },
    newStream: async () => {
      const [out, inb] = memoryStreamPair(opts)
      summaries.push(handleTensorStream(inb as unknown as Stream, PEER, r.init))
      return out as unknown as Stream
    }
  } as unknown as Connection & { summaries: Array<Promise<TensorStreamSummary>> }
}

/** Writes a hand-made message: a header (as given, unchecked) and the payload in frames of `frame` bytes. */
function writeRaw (s: MemoryStream, header: unknown, payload: Uint8Array, frame = MAX_FRAME_BYTES): void {
  s.send(encodeJsonRecord(MSG_TENSOR, header))
  for (let off = 0; off < payload.length; off += frame) {
    const f = payload.subarray(off, Math.min(payload.length, off + frame))
    s.send(encodeFramePrefix(f.length))
    s.send(f)
  }
}

async function readReplyFrom (s: MemoryStream): Promise<Reply> {
  const reader = new TensorReader(s)
  const prefix = await reader.read(PREFIX_BYTES)
  return decodeReply(prefix[0], await reader.read(recordLength(prefix)))
}

async function headerFor (msg: TensorMessage): Promise<TensorHeader> {
  return headerOf(msg, toHex(await sha256(payloadOf(msg.data))))
}

async function rejection (p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

// ---- tests

describe('tensor stream: round trips', () => {
  it('moves odd shapes bit-exactly over one long-lived stream, through 7-byte network chunks', async () => {
    const r = receiver()
    const { out, done } = serve(r, { maxChunkBytes: 7 })
    const shapes = [[1], [3, 5, 7], [2, 1, 3, 1, 5], [1, 1, 1, 1, 1, 1, 1, 1], [17, 33], [4099]]
    const sent = shapes.map((s, i) => randomTensor(s, i))
    sent.push(randomTensor([13, 3], 99, 'u32'))
    for (const msg of sent) {
      const res = await sendTensor(asStream(out), msg)
      expect(res.sha256).toBe(toHex(await sha256(payloadOf(msg.data))))
    }
    await out.close()
    const summary = await done
    expect(summary).toMatchObject({ received: sent.length, refused: 0, violation: false })
    expect(summary.error).toBeUndefined()
    expect(r.got.length).toBe(sent.length)
    r.got.forEach((t, i) => {
      const m = sent[i]
      expect(t).toMatchObject({ campaign: CAMPAIGN, microbatch: m.microbatch, routeStep: 1, kind: 'activations', optimizerStep: 5, shape: m.shape, from: PEER })
      expect(t.data.constructor).toBe(m.data.constructor)
      expect(sameBits(t.data, m.data)).toBe(true)
    })
    expect(r.violations).toEqual([])
  })

  it('queues concurrent sends on one stream and delivers each once, in call order', async () => {
    const r = receiver()
    const { out, done } = serve(r, { maxChunkBytes: 4096 })
    // Largest first: their digests finish last, so a queue slot taken after hashing would reorder them.
    const msgs = [0, 1, 2, 3, 4].map(i => randomTensor([64 * (5 - i) ** 3, 65], i))
    await Promise.all(msgs.map(async m => await sendTensor(asStream(out), m)))
    await out.close()
    expect((await done).received).toBe(5)
    expect(r.got.map(t => t.microbatch)).toEqual([0, 1, 2, 3, 4])
  })

  it('opens one stream per tensor on a connection and closes it after the ack', async () => {
    const r = receiver()
    const conn = connectionTo(r)
    await sendTensor(conn, randomTensor([8, 9], 1))
    await sendTensor(conn, randomTensor([8, 9], 2))
    const summaries = await Promise.all(conn.summaries)
    expect(summaries.map(s => [s.received, s.error])).toEqual([[1, undefined], [1, undefined]])
    expect(r.got.map(t => t.microbatch)).toEqual([1, 2])
  })

  it('splits a 4 MiB+ payload into ≤1 MiB frames', async () => {
    const r = receiver()
    const { out, done } = serve(r, { record: true })
    const msg = randomTensor([MAX_FRAME_BYTES + 3]) // 4 MiB + 12 bytes of f32
    await sendTensor(asStream(out), msg)
    await out.close()
    await done
    expect(sameBits(r.got[0].data, msg.data)).toBe(true)
    // Walk the bytes that went over the wire: header record, then length-prefixed frames.
    const wire = new Uint8Array(out.wire.reduce((n, c) => n + c.length, 0))
    let at = 0
    for (const c of out.wire) { wire.set(c, at); at += c.length }
    const view = new DataView(wire.buffer)
    let off = PREFIX_BYTES + view.getUint32(1)
    const frames: number[] = []
    while (off < wire.length) {
      const n = view.getUint32(off)
      frames.push(n)
      off += 4 + n
    }
    expect(off).toBe(wire.length)
    expect(frames).toEqual([MAX_FRAME_BYTES, MAX_FRAME_BYTES, MAX_FRAME_BYTES, MAX_FRAME_BYTES, 12])
    expect(Math.max(...out.sends)).toBeLessThanOrEqual(MAX_FRAME_BYTES)
  })

  it('honours backpressure: waits for drain, never sends into a full stream', async () => {
    const r = receiver()
    const capacity = 64 * 1024
    const { out, done } = serve(r, { capacity, maxChunkBytes: 16 * 1024, readDelayMs: 1 })
    const msg = randomTensor([3, 1000, 100]) // 1.2 MB: two frames
    await sendTensor(asStream(out), msg)
    await out.close()
    await done
    expect(out.fullCount).toBeGreaterThan(0)
    expect(out.sendsWhileFull).toBe(0)
    // At most one frame past the point where send() said the stream was full.
    expect(out.peakInFlight).toBeLessThanOrEqual(capacity + MAX_FRAME_BYTES)
    expect(sameBits(r.got[0].data, msg.data)).toBe(true)
  })
})

describe('tensor stream: refusals', () => {
  it('rejects a wrong digest, reports the violation, and keeps serving the next (good) sender', async () => {
    const r = receiver()
    const bad = serve(r, {}, 'bad-peer')
    const msg = randomTensor([32, 32])
    const header = await headerFor(msg)
    writeRaw(bad.out, { ...header, sha256: 'ff'.repeat(32) }, payloadOf(msg.data))
    const reply = await readReplyFrom(bad.out)
    expect(reply).toMatchObject({ type: 'nack', nack: { error: 'DigestMismatchError' } })
    const summary = await bad.done
    expect(summary.violation).toBe(true)
    expect(summary.error?.name).toBe('DigestMismatchError')
    expect(bad.inb.status).not.toBe('open')
    expect(r.violations.map(([p, e]) => [p, e.name])).toEqual([['bad-peer', 'DigestMismatchError']])
    expect(r.got).toEqual([])

    const good = serve(r, {}, 'good-peer')
    await sendTensor(asStream(good.out), msg)
    await good.out.close()
    expect((await good.done).received).toBe(1)
    expect(r.got.map(t => t.from)).toEqual(['good-peer'])
  })

  it('refuses a 1 GiB declared payload over a small limit before allocating it', async () => {
    const r = receiver({ maxPayloadBytes: 1 << 20 })
    const { out, done } = serve(r)
    const header = { ...(await headerFor(randomTensor([4]))), shape: [1 << 28], payloadBytes: 1 << 30 }
    const before = process.memoryUsage().arrayBuffers
    const t0 = performance.now()
    writeRaw(out, header, new Uint8Array(0))
    const reply = await readReplyFrom(out)
    const summary = await done
    const ms = performance.now() - t0
    expect(reply).toMatchObject({ type: 'nack', nack: { error: 'OversizedError' } })
    expect(summary.error?.name).toBe('OversizedError')
    expect(r.violations.map(([, e]) => e.name)).toEqual(['OversizedError'])
    expect(ms).toBeLessThan(1000)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024)
  })

  it('refuses a header longer than MAX_TENSOR_HEADER_BYTES from its length prefix', async () => {
    const r = receiver()
    const { out, done } = serve(r)
    const prefix = new Uint8Array(PREFIX_BYTES)
    prefix[0] = MSG_TENSOR
    new DataView(prefix.buffer).setUint32(1, 0xfffffff0)
    out.send(prefix)
    expect(await readReplyFrom(out)).toMatchObject({ type: 'nack', nack: { error: 'OversizedError' } })
    expect((await done).violation).toBe(true)
  })

  it('sends a sender an early nack for a tensor over the receiver\'s limit, as a NackError', async () => {
    const r = receiver({ maxPayloadBytes: 1 << 20 })
    const { out, done } = serve(r)
    const err = await rejection(sendTensor(asStream(out), randomTensor([2, MAX_FRAME_BYTES / 4])))
    expect(err.name).toBe('NackError')
    expect((err as Error & { reason: string }).reason).toBe('OversizedError')
    expect((await done).violation).toBe(true)
  })

  const malformed: Array<[string, (s: MemoryStream, h: TensorHeader, p: Uint8Array) => void]> = [
    ['an unknown message type', s => { s.send(new Uint8Array([0x00, 0, 0, 0, 2, 0x7b, 0x7d])) }],
    ['header bytes that are not UTF-8', s => { s.send(new Uint8Array([0x54, 0, 0, 0, 3, 0x7b, 0xff, 0x7d])) }],
    ['header bytes that are not JSON', s => { const j = new TextEncoder().encode('{"v":1,'); s.send(new Uint8Array([0x54, 0, 0, 0, j.length, ...j])) }],
    ['a header with an extra field', (s, h, p) => { writeRaw(s, { ...h, priority: 1 }, p) }],
    ['a shape that disagrees with the length', (s, h, p) => { writeRaw(s, { ...h, shape: [5, 5] }, p) }],
    ['a negative dimension', (s, h, p) => { writeRaw(s, { ...h, shape: [-16, -16] }, p) }],
    ['an unknown dtype', (s, h, p) => { writeRaw(s, { ...h, dtype: 'f64' }, p) }],
    ['an empty frame', (s, h) => { s.send(encodeHeader(h)); s.send(encodeFramePrefix(0)) }],
    ['a frame over 1 MiB', (s, h) => { s.send(encodeHeader({ ...h, shape: [1 << 19], payloadBytes: 1 << 21 })); s.send(encodeFramePrefix(MAX_FRAME_BYTES + 1)) }],
    ['a frame that overruns the payload', (s, h, p) => { s.send(encodeHeader(h)); s.send(encodeFramePrefix(p.length + 1)) }]
  ]
  for (const [what, write] of malformed) {
    it(`refuses ${what} as MalformedFrameError`, async () => {
      const r = receiver()
      const { out, inb, done } = serve(r, { maxChunkBytes: 5 })
      const msg = randomTensor([16, 16])
      write(out, await headerFor(msg), payloadOf(msg.data))
      expect(await readReplyFrom(out)).toMatchObject({ type: 'nack', nack: { error: 'MalformedFrameError' } })
      const summary = await done
      expect(summary).toMatchObject({ received: 0, violation: true })
      expect(summary.error?.name).toBe('MalformedFrameError')
      expect(r.violations.map(([p, e]) => [p, e.name])).toEqual([[PEER, 'MalformedFrameError']])
      expect(inb.status).toBe('aborted')
      expect(r.got).toEqual([])
    })
  }

  it('refuses a tensor for another campaign (WrongCampaignError) and the sender sees it as a NackError', async () => {
    const r = receiver()
    const { out, done } = serve(r)
    const err = await rejection(sendTensor(asStream(out), { ...randomTensor([3, 3]), campaign: 'f'.repeat(32) }))
    expect([err.name, (err as Error & { reason: string }).reason]).toEqual(['NackError', 'WrongCampaignError'])
    expect((await done).error?.name).toBe('WrongCampaignError')
    expect(r.violations.map(([, e]) => e.name)).toEqual(['WrongCampaignError'])
  })

  it('reports a stream that ends mid-payload as truncated, not as a violation', async () => {
    const r = receiver()
    const { out, done } = serve(r)
    const msg = randomTensor([64, 64])
    const p = payloadOf(msg.data)
    out.send(encodeHeader(await headerFor(msg)))
    out.send(encodeFramePrefix(p.length))
    out.send(p.subarray(0, 1000))
    await out.close()
    const summary = await done
    expect(summary).toMatchObject({ received: 0, violation: false })
    expect(summary.error?.name).toBe('TruncatedError')
    expect(r.got).toEqual([])
    expect(r.violations).toEqual([])
  })

  it('times out a message that stalls half way (receiver side)', async () => {
    const r = receiver({ receiveTimeoutMs: 50 })
    const { out, done } = serve(r)
    const msg = randomTensor([64, 64])
    out.send(encodeHeader(await headerFor(msg)))
    const summary = await done
    expect(summary.error?.name).toBe('TimeoutError')
    expect(summary.violation).toBe(false)
  })
})

describe('tensor stream: receive budget', () => {
  it('answers BusyError before allocating when the shared budget is spent, and recovers once onTensor returns', async () => {
    let release = (): void => {}
    const held = new Promise<void>(resolve => { release = resolve })
    const budget = new ReceiveBudget(1 << 20)
    const r = receiver({ budget, onTensor: async t => { r.got.push(t); if (t.microbatch === 1) await held } })
    const first = serve(r, {}, 'slow-consumer')
    const pending = sendTensor(asStream(first.out), randomTensor([192, 1024], 1)) // 768 KiB, held by onTensor
    await expect.poll(() => r.got.length).toBe(1)
    expect(budget.used).toBe(768 * 1024)
    const second = serve(r, {}, 'second')
    const err = await rejection(sendTensor(asStream(second.out), randomTensor([128, 1024], 2))) // 512 KiB: doesn't fit
    expect([err.name, (err as Error & { reason: string }).reason]).toEqual(['NackError', 'BusyError'])
    expect(second.out.status).not.toBe('open') // a final nack: the stream is gone
    expect(await second.done).toMatchObject({ violation: false })
    expect(r.violations).toEqual([])
    release()
    await pending
    expect(budget.used).toBe(0)
    const third = serve(r, {}, 'third')
    await sendTensor(asStream(third.out), randomTensor([128, 1024], 3))
    expect(r.got.map(t => t.microbatch)).toEqual([1, 3])
    expect(budget.used).toBe(0)
  })

  it('gives the budget back when a tensor fails its digest', async () => {
    const budget = new ReceiveBudget(1 << 20)
    const r = receiver({ budget })
    const { out, done } = serve(r)
    const msg = randomTensor([16, 16])
    writeRaw(out, { ...(await headerFor(msg)), sha256: '00'.repeat(32) }, payloadOf(msg.data))
    await done
    expect(budget.used).toBe(0)
  })
})

describe('tensor stream: a sender that does not wait for its ack', () => {
  it('cannot queue more than the read buffer while the receiver is busy with a tensor', async () => {
    let release = (): void => {}
    const held = new Promise<void>(resolve => { release = resolve })
    const r = receiver({ onTensor: async t => { r.got.push(t); await held } })
    const { out, inb, done } = serve(r)
    inb.maxReadBufferLength = 1 << 20
    const msg = randomTensor([16, 16])
    writeRaw(out, await headerFor(msg), payloadOf(msg.data))
    await expect.poll(() => r.got.length).toBe(1)
    // While onTensor holds the first tensor, the sender floods 2 MiB.
    const junk = new Uint8Array(64 * 1024)
    for (let i = 0; i < 32 && out.status === 'open'; i++) out.send(junk)
    expect(inb.status).not.toBe('open')
    release()
    const summary = await done
    expect(summary.received + summary.refused).toBeLessThanOrEqual(1)
    expect(summary.error).toBeDefined()
  })
})

describe('tensor stream: receiver shutdown', () => {
  it('stops serving when its signal aborts, and the sender learns the stream is gone', async () => {
    const ctl = new AbortController()
    const r = receiver({ signal: ctl.signal })
    const { out, done } = serve(r)
    await sendTensor(asStream(out), randomTensor([2, 2]))
    ctl.abort()
    const summary = await done
    expect(summary).toMatchObject({ received: 1, violation: false })
    expect(summary.error?.name).toBe('TruncatedError')
    expect((await rejection(sendTensor(asStream(out), randomTensor([2, 2])))).name).toBe('TruncatedError')
  })
})

describe('tensor stream: what the sender learns', () => {
  it('gets a NackError naming the receiver\'s reason when onTensor refuses, and the stream stays usable', async () => {
    let refuse = true
    const r = receiver({
      onTensor: () => {
        if (refuse) throw Object.assign(new Error('optimizer step 5 is 9 behind'), { name: 'StaleTensorError' })
      }
    })
    const { out, done } = serve(r)
    const err = await rejection(sendTensor(asStream(out), randomTensor([5, 5])))
    expect(err.name).toBe('NackError')
    expect((err as Error & { reason: string }).reason).toBe('StaleTensorError')
    expect(err.message).toContain('9 behind')
    refuse = false
    await sendTensor(asStream(out), randomTensor([5, 5]))
    await out.close()
    expect(await done).toMatchObject({ received: 1, refused: 1, violation: false })
  })

  it('gets a TimeoutError when no ack comes in time, and the message is untouched for a re-route', async () => {
    const r = receiver({ onTensor: async () => { await new Promise(() => {}) } })
    const { out } = serve(r)
    const msg = randomTensor([10, 10])
    const copy = bitsOf(msg.data).slice()
    const err = await rejection(sendTensor(asStream(out), msg, { signal: AbortSignal.timeout(100) }))
    expect(err.name).toBe('TimeoutError')
    expect(out.status).toBe('aborted')
    expect(sameBits(msg.data, copy)).toBe(true)
    // The caller re-routes the same message to another replica.
    const other = receiver()
    const conn = connectionTo(other)
    await sendTensor(conn, msg)
    expect(sameBits(other.got[0].data, copy)).toBe(true)
  })

  it('passes the caller\'s abort reason through', async () => {
    const r = receiver({ onTensor: async () => { await new Promise(() => {}) } })
    const { out } = serve(r)
    const ctl = new AbortController()
    const p = sendTensor(asStream(out), randomTensor([4]), { signal: ctl.signal })
    setTimeout(() => { ctl.abort() }, 20)
    expect((await rejection(p)).name).toBe('AbortError')
  })

  it('gets a TruncatedError when the receiver goes away before acking', async () => {
    const [out, inb] = memoryStreamPair({ capacity: 64 * 1024 })
    // A receiver that reads a little, then its tab closes.
    void (async () => { for await (const _ of inb) { inb.abort(new Error('tab closed')); break } })()
    const err = await rejection(sendTensor(asStream(out), randomTensor([512, 512])))
    expect(err.name).toBe('TruncatedError')
    // The stream is dead: a later send on it fails at once with the same typed error.
    expect((await rejection(sendTensor(asStream(out), randomTensor([4])))).name).toBe('TruncatedError')
  })

  it('gets a TruncatedError when the receiver closes without a reply', async () => {
    const [out, inb] = memoryStreamPair()
    void (async () => { for await (const _ of inb) { await inb.close(); break } })()
    expect((await rejection(sendTensor(asStream(out), randomTensor([4, 4])))).name).toBe('TruncatedError')
  })
})

describe('tensor stream: throughput in memory (codec, digests and copies; no network)', () => {
  it('measures one stream per tensor against one long-lived stream', async () => {
    const msg = randomTensor([4, 64, 768]) // (B, T, C) = 768 KiB of activations
    const n = 20
    const r1 = receiver()
    const conn = connectionTo(r1)
    let t0 = performance.now()
    for (let i = 0; i < n; i++) await sendTensor(conn, { ...msg, microbatch: i })
    const perTensorMs = (performance.now() - t0) / n
    const r2 = receiver()
    const { out } = serve(r2)
    t0 = performance.now()
    for (let i = 0; i < n; i++) await sendTensor(asStream(out), { ...msg, microbatch: i })
    const longLivedMs = (performance.now() - t0) / n
    const mb = msg.data.byteLength / 1e6
    console.info(`tensor-stream in memory, ${mb.toFixed(2)} MB tensors: stream per tensor ${perTensorMs.toFixed(2)} ms (${(mb / perTensorMs * 1000).toFixed(0)} MB/s), long-lived ${longLivedMs.toFixed(2)} ms (${(mb / longLivedMs * 1000).toFixed(0)} MB/s)`)
    expect(r1.got.length + r2.got.length).toBe(2 * n)
  })
})
