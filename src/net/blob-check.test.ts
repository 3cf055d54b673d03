import { describe, expect, it } from 'vitest'
import type { Connection, Stream } from '@libp2p/interface'
import { receiveBlob, sendBlob } from './blob-check.ts'
import { memoryStreamPair, type MemoryStream } from './memory-stream.ts'

/** A connection whose one stream is `stream`, as sendBlob opens it. */
const connectionTo = (stream: MemoryStream): Connection =>
  ({ remotePeer: { toString: () => 'peer-b' }, newStream: async () => stream as unknown as Stream }) as unknown as Connection

describe('blob check', () => {
  it('round-trips 3 MiB with a 1 MiB chunking network: both sides agree on the digest', async () => {
    const [a, b] = memoryStreamPair({ capacity: 512 * 1024, maxChunkBytes: 64 * 1024 })
    const payload = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => (i * 31) & 255)
    const [sent, received] = await Promise.all([sendBlob(connectionTo(a), payload), receiveBlob(b as unknown as Stream, 'peer-a')])
    expect(received).toMatchObject({ bytes: payload.length, ok: true })
    expect(sent).toMatchObject({ bytes: payload.length, ok: true, receivedDigest: received.receivedDigest })
  })

  it('a peer that reads everything but never answers fails the check at its deadline instead of hanging', async () => {
    const [a, b] = memoryStreamPair()
    const drain = (async () => { try { for await (const _ of b) { /* swallow */ } } catch { /* aborted */ } })()
    const started = Date.now()
    const err = await sendBlob(connectionTo(a), new Uint8Array(1024), AbortSignal.timeout(300)).catch((e: Error) => e)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).name).toBe('TruncatedError')
    expect(Date.now() - started).toBeLessThan(5_000)
    await drain
  })

  it('a sender that stalls mid-payload fails the receiver at its deadline', async () => {
    const [a, b] = memoryStreamPair()
    const header = new Uint8Array(36)
    new DataView(header.buffer).setUint32(0, 1000)
    a.send(header)
    a.send(new Uint8Array(10))
    const err = await receiveBlob(b as unknown as Stream, 'peer-a', AbortSignal.timeout(300)).catch((e: Error) => e)
    expect((err as Error).name).toBe('TruncatedError')
  })
})
