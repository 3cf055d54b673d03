// The tensor protocol (`/tabgrad/tensor/1.0.0`, wire format in tensor-wire.ts): a stage sends
// activations or gradients to a peer and learns whether they arrived intact. The receiver acks a
// tensor only after its digest checked out and `onTensor` took it; anything else reaches the
// sender as a typed error (NackError, TimeoutError, TruncatedError), so the caller, which still
// holds the message, can re-route it to another replica (DESIGN.md "No microbatch is lost").
// Delivery is at least once: an ack lost to a dying stream makes the sender re-route a tensor the
// receiver already took, so receivers drop duplicates by (microbatch, routeStep).
//
// Streams: `sendTensor(connection, …)` opens one stream per tensor and closes it after the ack;
// `sendTensor(stream, …)` reuses a long-lived stream, one message at a time (calls on the same
// stream queue up). A receiver reads messages from a stream until the sender closes it, so both
// work against the same handler. One stream per tensor is the default: on WebRTC each stream is
// its own data channel, so a slow or failed transfer never holds up another microbatch, and
// opening a stream cost nothing measurable next to a 4 MiB tensor (tensor-libp2p.test.ts: both
// modes 11–47 MB/s over WebSockets+noise+yamux on a loaded 2-core machine, within run-to-run noise).
//
// Receiver memory is bounded three ways: the header is checked (size, campaign, shape, length ≤ the
// campaign's limit) before the payload is allocated; all streams share a ReceiveBudget, so many
// senders at once get BusyError instead of allocations; and the stream is paused while a tensor is
// being checked and handed over, so a sender that doesn't wait for its ack is held back.
//
// A peer that breaks the protocol (malformed header or frames, oversized, wrong campaign, wrong
// digest) gets a nack where possible, its stream is aborted and `onViolation` is told, so the
// node can drop or ban it; the receiver itself keeps serving other streams.
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { createLogger } from '../log.ts'
import {
  DEFAULT_MAX_TENSOR_BYTES, MAX_FRAME_BYTES, MAX_INBOUND_TENSOR_STREAMS, NACK_FLUSH_TIMEOUT_MS,
  TENSOR_PROTOCOL, TENSOR_RECEIVE_BUDGET_BYTES, TENSOR_RECEIVE_TIMEOUT_MS, TENSOR_SEND_TIMEOUT_MS
} from './constants.ts'
import { BusyError, DigestMismatchError, MalformedFrameError, NackError, NetError, TimeoutError, TruncatedError } from './errors.ts'
import { asStreamError, ByteReader, sha256, toHex } from './byte-stream.ts'
import {
  FRAME_PREFIX_BYTES, MSG_TENSOR, PREFIX_BYTES, decodeHeader, decodeReply, encodeAck, encodeFramePrefix,
  decodePayload, encodeHeader, encodeNack, frameLength, headerOf, recordLength, wirePayloadOf,
  type Reply, type TensorData, type TensorHeader, type TensorMessage
} from './tensor-wire.ts'

const log = createLogger('tabgrad:net')

/** Errors that mean the peer broke the protocol (as opposed to going away or being slow). */
const VIOLATIONS = new Set(['MalformedFrameError', 'OversizedError', 'DigestMismatchError', 'WrongCampaignError'])

export function isViolation (err: unknown): boolean {
  return VIOLATIONS.has((err as Error | undefined)?.name ?? '')
}

// ---- receive budget

/** Payload bytes held by tensors being received, shared by all inbound streams of a node. */
export class ReceiveBudget {
  readonly limit: number
  used = 0

  constructor (limit: number) {
    this.limit = limit
  }

  /** Reserves `n` bytes, or returns false if that would go over the limit. */
  take (n: number): boolean {
    if (this.used + n > this.limit) return false
    this.used += n
    return true
  }

  give (n: number): void {
    this.used -= n
  }
}

// ---- reading

/** The tensor protocol reads with the shared exact-length reader (byte-stream.ts). */
export { ByteReader as TensorReader }


/** Reads one tensor message after its type byte: header, then frames into one buffer, then the digest check. */
async function readTensorBody (reader: ByteReader, expect: { campaign: string, maxPayloadBytes: number }, budget: ReceiveBudget): Promise<{ header: TensorHeader, data: TensorData }> {
  const prefix = await reader.read(PREFIX_BYTES - 1)
  const lengthView = new Uint8Array(PREFIX_BYTES)
  lengthView.set(prefix, 1)
  const header = decodeHeader(await reader.read(recordLength(lengthView)), expect)
  // The header passed validation: payloadBytes ≤ the campaign's limit. Only now, and only if the
  // node has room for it next to the tensors other streams are receiving, allocate.
  if (!budget.take(header.payloadBytes)) {
    throw new BusyError(`no room for ${header.payloadBytes} more bytes (${budget.used} of ${budget.limit} held)`)
  }
  try {
    const payload = new ArrayBuffer(header.payloadBytes)
    const bytes = new Uint8Array(payload)
    const framePrefix = new Uint8Array(FRAME_PREFIX_BYTES)
    for (let off = 0; off < bytes.length;) {
      await reader.readInto(framePrefix)
      const n = frameLength(framePrefix, bytes.length - off)
      await reader.readInto(bytes.subarray(off, off + n))
      off += n
    }
    const digest = toHex(await sha256(bytes))
    if (digest !== header.sha256) {
      throw new DigestMismatchError(`microbatch ${header.microbatch} hop ${header.routeStep}: payload digest ${digest}, header promised ${header.sha256}`)
    }
    // An encoded payload decodes here, so a codec's refusal counts as the violation it is.
    return { header, data: decodePayload(header, payload) }
  } catch (err) {
    budget.give(header.payloadBytes)
    throw err
  }
}

// ---- receiving

export interface ReceivedTensor extends Omit<TensorMessage, 'encoded'> {
  /** Payload bytes as they crossed the wire (encoded). */
  payloadBytes: number
  /** sha256 of the payload, hex: the `inDigest` of a work receipt. */
  sha256: string
  /** PeerId of the sender. */
  from: string
}

export interface TensorHandlerInit {
  /** This stage's campaign id; tensors for any other are refused. */
  campaign: string
  /** The campaign's payload limit; larger tensors are refused before allocation. @default DEFAULT_MAX_TENSOR_BYTES */
  maxPayloadBytes?: number
  /**
   * Takes custody of a tensor whose digest checked out. The ack is sent once this resolves; if it
   * throws, the sender gets a nack with the error's name (e.g. a stale or unwanted tensor) and the
   * stream stays usable. Required.
   */
  onTensor: (tensor: ReceivedTensor) => void | Promise<void>
  /** Told when a peer breaks the protocol, after its stream was aborted. @default logs it */
  onViolation?: (peer: string, error: Error) => void
  /** A message that has started must be complete within this. @default TENSOR_RECEIVE_TIMEOUT_MS */
  receiveTimeoutMs?: number
  /**
   * Payload bytes held across inbound streams, from allocation until `onTensor` resolves (then the
   * trainer's own queue owns them). A tensor that doesn't fit is refused with BusyError before
   * allocation and its stream is aborted. @default TENSOR_RECEIVE_BUDGET_BYTES for this stream;
   * tensorProtocol shares one budget across all its streams
   */
  budget?: ReceiveBudget
  /** Stops reading (node shutdown). @default never */
  signal?: AbortSignal
}

export interface TensorStreamSummary {
  /** Tensors acked on this stream. */
  received: number
  /** Tensors nacked because `onTensor` refused them. */
  refused: number
  /** Why the stream ended abnormally; undefined after a clean close by the sender. */
  error?: Error
  /** True when `error` is a protocol violation (and `onViolation` was called). */
  violation: boolean
}

/**
 * Serves one inbound tensor stream until the sender closes it. Never throws: a stream that fails
 * ends in the summary, so a handler registered with libp2p keeps serving other streams.
 */
export async function handleTensorStream (stream: Stream, peer: string, init: TensorHandlerInit): Promise<TensorStreamSummary> {
  const expect = { campaign: init.campaign, maxPayloadBytes: init.maxPayloadBytes ?? DEFAULT_MAX_TENSOR_BYTES }
  const receiveTimeoutMs = init.receiveTimeoutMs ?? TENSOR_RECEIVE_TIMEOUT_MS
  const budget = init.budget ?? new ReceiveBudget(TENSOR_RECEIVE_BUDGET_BYTES)
  const reader = new ByteReader(stream)
  const summary: TensorStreamSummary = { received: 0, refused: 0, violation: false }
  const onAbort = (): void => { stream.abort(init.signal?.reason ?? new Error('tensor handler stopped')) }
  init.signal?.addEventListener('abort', onAbort)
  try {
    while (true) {
      if (stream.readStatus === 'paused') stream.resume()
      if (!await reader.more()) break
      // A message has begun: it must be complete in time (a stalled sender cannot pin the buffer).
      const timer = setTimeout(() => { stream.abort(new TimeoutError(`tensor from ${peer} not complete within ${receiveTimeoutMs} ms`)) }, receiveTimeoutMs)
      let header: TensorHeader
      let data: TensorData
      try {
        const type = (await reader.read(1))[0]
        if (type !== MSG_TENSOR) throw new MalformedFrameError(`expected a tensor message, got type 0x${type.toString(16)}`)
        ;({ header, data } = await readTensorBody(reader, expect, budget))
      } finally {
        clearTimeout(timer)
      }
      // The sender waits for our answer now. Pausing holds anything it sends anyway in libp2p's
      // read buffer, which resets the stream past maxReadBufferLength (yamux itself grants window
      // as soon as bytes arrive, so without this a flood would queue without bound).
      if (stream.readStatus === 'readable') stream.pause()
      // The payload's bytes count against the budget until onTensor has taken custody.
      try {
        await init.onTensor({
          campaign: header.campaign,
          microbatch: header.microbatch,
          routeStep: header.routeStep,
          kind: header.kind,
          optimizerStep: header.optimizerStep,
          ...(header.meta !== undefined ? { meta: header.meta } : {}),
          shape: header.shape,
          data,
          payloadBytes: header.payloadBytes,
          sha256: header.sha256,
          from: peer
        })
      } catch (err) {
        summary.refused++
        log('refused tensor', header.microbatch, 'from', peer, (err as Error).name)
        await send(stream, encodeNack(err, false))
        continue
      } finally {
        budget.give(header.payloadBytes)
      }
      summary.received++
      await send(stream, encodeAck(header))
    }
    await stream.close().catch(() => {})
  } catch (err) {
    summary.error = err as Error
    summary.violation = isViolation(err)
    await refuse(stream, err as Error)
    if (summary.violation) {
      log.info('tensor protocol violation by', peer, (err as Error).name, (err as Error).message)
      try {
        init.onViolation?.(peer, err as Error)
      } catch (hookErr) {
        log.error('onViolation threw', hookErr)
      }
    } else {
      log('tensor stream from', peer, 'ended:', (err as Error).name, (err as Error).message)
    }
  } finally {
    init.signal?.removeEventListener('abort', onAbort)
  }
  return summary
}

/** Nacks (if the stream can still carry it), then aborts so nothing more from this peer is read. */
async function refuse (stream: Stream, err: Error): Promise<void> {
  if (stream.status === 'open' && stream.writeStatus === 'writable') {
    try {
      stream.send(encodeNack(err, true))
      // Closing our writable end flushes the nack before the abort below throws away unsent data.
      await stream.close({ signal: AbortSignal.timeout(NACK_FLUSH_TIMEOUT_MS) })
    } catch {}
  }
  stream.abort(err)
}

async function send (stream: Stream, bytes: Uint8Array): Promise<void> {
  if (!stream.send(bytes)) await drained(stream)
}

function drained (stream: Stream, stop?: Promise<never>): Promise<void> {
  if (!stream.writableNeedsDrain) return Promise.resolve()
  let cleanup = (): void => {}
  const wait = new Promise<void>((resolve, reject) => {
    const onDrain = (): void => { resolve() }
    const onClose = (): void => { reject(new TruncatedError('stream closed while waiting to send')) }
    cleanup = () => { stream.removeEventListener('drain', onDrain); stream.removeEventListener('close', onClose) }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
  })
  return (stop == null ? wait : Promise.race([wait, stop])).finally(cleanup)
}

// ---- sending

export interface SendTensorOptions {
  /** Ends the wait for the ack. @default AbortSignal.timeout(TENSOR_SEND_TIMEOUT_MS) */
  signal?: AbortSignal
  /** Refuse locally what the receiver would refuse anyway. @default DEFAULT_MAX_TENSOR_BYTES */
  maxPayloadBytes?: number
}

export interface SendTensorResult {
  /** sha256 of the payload, hex, as the receiver computed it (the `outDigest` of a receipt). */
  sha256: string
  /** Bytes written, framing included. */
  bytes: number
  ms: number
}

/** Nacks after which the receiver aborts the stream (`final` on the wire). */
const finalNacks = new WeakSet<NackError>()

/** Per long-lived stream: its reader (leftover bytes belong to the next reply) and the queue of sends. */
const outbound = new WeakMap<Stream, { reader: ByteReader, tail: Promise<unknown> }>()

/**
 * Sends one tensor and waits for the receiver's ack. `msg` is never changed or transferred (don't
 * change it either until this settles: the stream holds views of it): on any error the caller
 * still holds it and can send it elsewhere. Throws NackError (the receiver refused
 * it; `reason` names why), TimeoutError (no ack in time), TruncatedError (the stream closed or
 * reset first), MalformedFrameError (a reply that makes no sense), or the signal's reason when the
 * caller aborted. All of these are worth a re-route. A message that fails the local checks (shape
 * against data length, payload over `maxPayloadBytes`) throws MalformedFrameError or OversizedError
 * before anything is sent: no receiver would take it.
 */
export async function sendTensor (target: Connection | Stream, msg: TensorMessage, options: SendTensorOptions = {}): Promise<SendTensorResult> {
  const signal = options.signal ?? AbortSignal.timeout(TENSOR_SEND_TIMEOUT_MS)
  const start = performance.now()
  const payload = wirePayloadOf(msg)
  // Hashing starts now but the queue slot below is taken synchronously: concurrent sends on one
  // stream go out in call order even when their digests finish out of order.
  const prepared = sha256(payload).then(d => headerOf(msg, toHex(d), options.maxPayloadBytes ?? DEFAULT_MAX_TENSOR_BYTES))
  prepared.catch(() => {})
  if (isConnection(target)) {
    const header = await prepared
    let stream: Stream
    try {
      stream = await target.newStream(TENSOR_PROTOCOL, { signal })
    } catch (err) {
      throw timedOut(err, signal, header)
    }
    try {
      const result = await exchange(stream, new ByteReader(stream), header, payload, signal, start)
      void stream.close().catch(() => {})
      return result
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }
  const stream = target
  let state = outbound.get(stream)
  if (state == null) {
    state = { reader: new ByteReader(stream), tail: Promise.resolve() }
    outbound.set(stream, state)
  }
  const { reader } = state
  const run = state.tail.catch(() => {}).then(async () => {
    // A message that fails the local checks throws here, before it touches the stream.
    const header = await prepared
    if (stream.status !== 'open' || stream.writeStatus !== 'writable') throw new TruncatedError(`tensor stream is ${stream.status}`)
    try {
      return await exchange(stream, reader, header, payload, signal, start)
    } catch (err) {
      // A refusal by `onTensor` comes after the whole message was read: the stream is still in step.
      // After any other failure nobody knows where the stream stands: it can't carry another message.
      if (!(err instanceof NackError) || finalNacks.has(err)) stream.abort(err as Error)
      throw err
    }
  })
  state.tail = run
  return await run
}

function isConnection (target: Connection | Stream): target is Connection {
  return typeof (target as Partial<Connection>).newStream === 'function'
}

/** Writes header and frames while already listening for the reply, so an early nack stops the upload. */
async function exchange (stream: Stream, reader: ByteReader, header: TensorHeader, payload: Uint8Array, signal: AbortSignal, start: number): Promise<SendTensorResult> {
  signal.throwIfAborted()
  let onAbort = (): void => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(signal.reason) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  aborted.catch(() => {})
  const reply = readReply(reader)
  reply.catch(() => {})
  let answered = false
  void reply.finally(() => { answered = true }).catch(() => {})
  // Settles (rejects) once any reply arrived, to interrupt a write that waits for 'drain'.
  const replied = reply.then(() => { throw new Error('reply arrived') })
  replied.catch(() => {})
  let bytes = 0
  try {
    let writeError: unknown
    try {
      const stop = Promise.race([aborted, replied])
      stop.catch(() => {})
      const headerBytes = encodeHeader(header)
      bytes += headerBytes.length
      if (!stream.send(headerBytes)) await drained(stream, stop)
      for (let off = 0; off < payload.length && !answered; off += MAX_FRAME_BYTES) {
        // An early answer is a refusal (e.g. OversizedError after the header): stop uploading.
        const frame = payload.subarray(off, Math.min(payload.length, off + MAX_FRAME_BYTES))
        if (!stream.send(encodeFramePrefix(frame.length))) await drained(stream, stop)
        if (!stream.send(frame)) await drained(stream, stop)
        bytes += FRAME_PREFIX_BYTES + frame.length
      }
    } catch (err) {
      writeError = err
    }
    let answer: Reply
    try {
      answer = await Promise.race([reply, aborted])
    } catch (err) {
      if (signal.aborted) throw signal.reason
      // The stream failed: report the write's error if it came first, else the reader's.
      throw asStreamError(writeError ?? err)
    }
    // An answer wins over a write error: the receiver only answers what it read (or refused early).
    if (answer.type === 'nack') {
      const nack = new NackError(answer.nack.error, answer.nack.message)
      if (answer.nack.final) finalNacks.add(nack)
      throw nack
    }
    const ack = answer.ack
    if (ack.sha256 !== header.sha256 || ack.microbatch !== header.microbatch || ack.routeStep !== header.routeStep || ack.kind !== header.kind) {
      throw new MalformedFrameError(`ack for microbatch ${ack.microbatch} hop ${ack.routeStep} does not match microbatch ${header.microbatch} hop ${header.routeStep}`)
    }
    return { sha256: ack.sha256, bytes, ms: performance.now() - start }
  } catch (err) {
    throw timedOut(err, signal, header)
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** A default-signal timeout becomes our TimeoutError naming the tensor; a caller's own abort reason passes through. */
function timedOut (err: unknown, signal: AbortSignal, header: TensorHeader): unknown {
  if (signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError' && !(err instanceof NetError)) {
    return new TimeoutError(`no ack for microbatch ${header.microbatch} hop ${header.routeStep}`, { cause: err })
  }
  return err
}

async function readReply (reader: ByteReader): Promise<Reply> {
  if (!await reader.more()) throw new TruncatedError('stream ended before the ack')
  const prefix = await reader.read(PREFIX_BYTES)
  return decodeReply(prefix[0], await reader.read(recordLength(prefix)))
}

// ---- registration

export interface TensorProtocolInit extends TensorHandlerInit {
  /** Concurrent inbound tensor streams per connection. @default MAX_INBOUND_TENSOR_STREAMS */
  maxInboundStreams?: number
}

export interface TensorProtocol {
  /** Stops accepting tensor streams. */
  stop(): Promise<void>
}

/** Registers the tensor handler on a libp2p node. Relayed (limited) connections are refused: tensors go direct. */
export async function tensorProtocol (node: Pick<Libp2p, 'handle' | 'unhandle'>, init: TensorProtocolInit): Promise<TensorProtocol> {
  const handlerInit = { ...init, budget: init.budget ?? new ReceiveBudget(TENSOR_RECEIVE_BUDGET_BYTES) }
  await node.handle(TENSOR_PROTOCOL, async (stream, connection) => {
    await handleTensorStream(stream, connection.remotePeer.toString(), handlerInit)
  }, { maxInboundStreams: init.maxInboundStreams ?? MAX_INBOUND_TENSOR_STREAMS, runOnLimitedConnection: false })
  return { stop: async () => { await node.unhandle(TENSOR_PROTOCOL) } }
}
