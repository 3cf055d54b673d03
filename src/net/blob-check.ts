// The blob check: one tab sends a payload to another over a direct WebRTC stream, framed in
// ≤1 MiB chunks; the receiver hashes what arrived and answers with its digest. It proves
// the data path (direct connection, framing, backpressure) end to end and measures throughput.
//
// Wire: u32 BE payload length, 32-byte sha256 of the payload, payload. Reply: 32-byte sha256
// the receiver computed, 1 byte status (0 ok, 1 digest mismatch).
import type { Connection, Stream } from '@libp2p/interface'
import { BLOB_PROTOCOL, MAX_BLOB_BYTES, MAX_FRAME_BYTES } from './constants.ts'
import { ByteReader, sendAll, sha256, toHex } from './byte-stream.ts'
import { DigestMismatchError, OversizedError, TruncatedError } from './errors.ts'

/** How long one whole check (open, send, reply) may take before its stream is aborted. */
export const BLOB_CHECK_TIMEOUT_MS = 60_000

export interface BlobResult {
  peer: string
  bytes: number
  sentDigest: string
  receivedDigest: string
  ok: boolean
  ms: number
}

export async function sendBlob (connection: Connection, payload: Uint8Array, signal?: AbortSignal): Promise<BlobResult> {
  if (payload.length > MAX_BLOB_BYTES) throw new OversizedError(`blob of ${payload.length} bytes exceeds ${MAX_BLOB_BYTES}`)
  const start = performance.now()
  const deadline = signal ?? AbortSignal.timeout(BLOB_CHECK_TIMEOUT_MS)
  const stream = await connection.newStream(BLOB_PROTOCOL, { signal: deadline })
  // A stalled stream would otherwise leave the check waiting forever with nothing to show.
  const reply = await withDeadline(stream, deadline, async () => {
    const digest = await sha256(payload)
    const header = new Uint8Array(36)
    new DataView(header.buffer).setUint32(0, payload.length)
    header.set(digest, 4)
    stream.send(header)
    await sendAll(stream, payload, MAX_FRAME_BYTES)
    return { digest, bytes: await new ByteReader(stream).read(33) }
  })
  await stream.close().catch(() => {})
  const digest = reply.digest
  const receivedDigest = toHex(reply.bytes.subarray(0, 32))
  return {
    peer: connection.remotePeer.toString(),
    bytes: payload.length,
    sentDigest: toHex(digest),
    receivedDigest,
    ok: reply.bytes[32] === 0 && receivedDigest === toHex(digest),
    ms: performance.now() - start
  }
}

/** Handles one inbound blob stream; resolves with what was received. */
export async function receiveBlob (stream: Stream, remotePeer: string, signal: AbortSignal = AbortSignal.timeout(BLOB_CHECK_TIMEOUT_MS)): Promise<BlobResult> {
  const start = performance.now()
  const reader = new ByteReader(stream)
  const { header, length, payload } = await withDeadline(stream, signal, async () => {
    const header = await reader.read(36)
    const length = new DataView(header.buffer).getUint32(0)
    if (length > MAX_BLOB_BYTES) {
      stream.abort(new OversizedError(`blob of ${length} bytes exceeds ${MAX_BLOB_BYTES}`))
      throw new OversizedError(`peer ${remotePeer} announced ${length} bytes, over the ${MAX_BLOB_BYTES}-byte limit`)
    }
    return { header, length, payload: await reader.read(length) }
  })
  const digest = await sha256(payload)
  const ok = toHex(digest) === toHex(header.subarray(4))
  const reply = new Uint8Array(33)
  reply.set(digest)
  reply[32] = ok ? 0 : 1
  stream.send(reply)
  await stream.close().catch(() => {})
  const result = { peer: remotePeer, bytes: length, sentDigest: toHex(header.subarray(4)), receivedDigest: toHex(digest), ok, ms: performance.now() - start }
  if (!ok) throw Object.assign(new DigestMismatchError(`blob from ${remotePeer} failed its digest`), { result })
  return result
}

/** Runs `work` on `stream`, aborting the stream (which fails any pending read or write) once `signal` fires. */
async function withDeadline<T> (stream: Stream, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  const onAbort = (): void => { stream.abort(new TruncatedError('blob check timed out: the stream stalled')) }
  if (signal.aborted) onAbort()
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await work()
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
