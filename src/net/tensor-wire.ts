// The tensor wire format (DESIGN.md "Wire format for tensors"): what a stage sends to the next
// (activations) or the previous one (gradients), and the receiver's answer. Pure codec: no I/O.
//
// A message on a `/tabgrad/tensor/1.0.0` stream, sender → receiver:
//
//   u8 0x54 'T' | u32 BE headerLength | header: UTF-8 JSON, ≤ MAX_TENSOR_HEADER_BYTES | frames
//   frame = u32 BE n (1 ≤ n ≤ MAX_FRAME_BYTES) | n payload bytes, repeated until payloadBytes are sent
//
// The header is JSON so that it can be read in a log; it has exactly the keys of TensorHeader:
//   {"v":1,"campaign":"0123…cdef","microbatch":7,"routeStep":2,"kind":"activations","dtype":"f32",
//    "shape":[4,64,768],"payloadBytes":786432,"sha256":"<64 hex>","optimizerStep":11}
// Explicit frame lengths let a receiver refuse an oversized frame before it buffers it and catch a
// sender that lost its place. The payload is the tensor's elements, little-endian, row-major.
//
// A boundary codec (src/codec/, the campaign's `codec`) adds one optional key, e.g.
//   "codec":{"name":"q8","rounding":"stochastic","seed":123456}
// Then `dtype` is what the receiver decodes to (f32), `payloadBytes` is the encoded length the codec
// gives for `shape`, and `sha256` (hence every receipt) covers the encoded bytes. A header without
// `codec` is raw elements, as before codecs, so older senders' tensors still decode.
//
// The answer, receiver → sender, once per message:
//
//   u8 0x41 'A' (ack) or 0x4E 'N' (nack) | u32 BE length | UTF-8 JSON (≤ MAX_TENSOR_HEADER_BYTES)
//   ack  = { v: 1, microbatch, routeStep, kind, sha256 }   (the digest the receiver computed)
//   nack = { v: 1, error, message, final }                   (`error` is the receiver's error name;
//                                                            `final`: the receiver aborts the stream)
//
// Everything a header declares is checked before anything is allocated for the payload.
import { MAX_FRAME_BYTES, MAX_TENSOR_HEADER_BYTES, MAX_TENSOR_RANK } from './constants.ts'
import { MalformedFrameError, OversizedError, WrongCampaignError } from './errors.ts'
import type { WireCodec } from '../codec/codec.ts'
import { codecOf, parseWireCodec } from '../codec/registry.ts'

export const TENSOR_VERSION = 1
export const MSG_TENSOR = 0x54
export const MSG_ACK = 0x41
export const MSG_NACK = 0x4e

/** Bytes before a header's JSON: type byte and u32 length. */
export const PREFIX_BYTES = 5
/** Bytes before each payload frame. */
export const FRAME_PREFIX_BYTES = 4

export type TensorKind = 'activations' | 'gradients'
export type TensorDType = 'f32' | 'u32'
export type TensorData = Float32Array | Uint32Array

export const BYTES_PER_ELEMENT: Readonly<Record<TensorDType, number>> = { f32: 4, u32: 4 }

export interface TensorHeader {
  v: number
  /** Content-addressed campaign id (campaign/manifest.ts). */
  campaign: string
  microbatch: number
  /** Hop index along the microbatch's route: the forward hop into stage s is s; backward hops keep counting. */
  routeStep: number
  kind: TensorKind
  dtype: TensorDType
  /** Row-major, each dimension ≥ 1, e.g. (B, T, C). */
  shape: number[]
  payloadBytes: number
  /** sha256 of the payload, lowercase hex. */
  sha256: string
  /** The sender's optimizer step when it produced the tensor (for staleness checks). */
  optimizerStep: number
  /** Optional JSON riding with the tensor (the route's work receipts); counts against the header limit. */
  meta?: unknown
  /** The payload's encoding; absent: raw `dtype` elements. */
  codec?: WireCodec
}

/** What a sender hands over; the dtype follows from `data`. */
export interface TensorMessage {
  campaign: string
  microbatch: number
  routeStep: number
  kind: TensorKind
  optimizerStep: number
  shape: readonly number[]
  data: TensorData
  /** Optional JSON for the receiver (work receipts). */
  meta?: unknown
  /** `data` (float32) as a codec encoded it: the payload sent instead of the raw elements. */
  encoded?: { codec: WireCodec, payload: Uint8Array }
}

export interface Ack { v: number, microbatch: number, routeStep: number, kind: TensorKind, sha256: string }
export interface Nack {
  v: number
  error: string
  message: string
  /** True when the receiver aborts the stream after this nack; false when the stream can carry the next tensor. */
  final: boolean
}
export type Reply = { type: 'ack', ack: Ack } | { type: 'nack', nack: Nack }

export interface HeaderLimits {
  /** The receiver's campaign id: a header naming another is refused. */
  campaign: string
  /** Largest payload accepted (the campaign's limit). */
  maxPayloadBytes: number
}

const HEADER_KEYS = ['v', 'campaign', 'microbatch', 'routeStep', 'kind', 'dtype', 'shape', 'payloadBytes', 'sha256', 'optimizerStep'] as const
const KINDS: readonly string[] = ['activations', 'gradients']
const HEX64 = /^[0-9a-f]{64}$/
const CAMPAIGN = /^[\x21-\x7e]{1,128}$/

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

// ---- encoding

export function dtypeOf (data: TensorData): TensorDType {
  if (data instanceof Float32Array) return 'f32'
  if (data instanceof Uint32Array) return 'u32'
  throw new TypeError('tensor data must be a Float32Array or a Uint32Array')
}

/** The payload bytes of a tensor, as a view (no copy). */
export function payloadOf (data: TensorData | Uint8Array): Uint8Array {
  // The wire is little-endian; every browser we target is too. A big-endian host would have to swap.
  if (!LITTLE_ENDIAN) throw new Error('tensor wire format needs a little-endian host')
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

/** The bytes that go on the wire for `msg`: its encoding, else its raw elements (a view, no copy). */
export function wirePayloadOf (msg: TensorMessage): Uint8Array {
  return msg.encoded?.payload ?? payloadOf(msg.data)
}

/** The header of `msg` whose payload has digest `sha256` (hex); validated as a receiver would. */
export function headerOf (msg: TensorMessage, sha256: string, maxPayloadBytes = Number.MAX_SAFE_INTEGER): TensorHeader {
  const header: TensorHeader = {
    v: TENSOR_VERSION,
    campaign: msg.campaign,
    microbatch: msg.microbatch,
    routeStep: msg.routeStep,
    kind: msg.kind,
    dtype: dtypeOf(msg.data),
    shape: [...msg.shape],
    payloadBytes: msg.encoded?.payload.byteLength ?? msg.data.byteLength,
    sha256,
    optimizerStep: msg.optimizerStep,
    ...(msg.meta !== undefined ? { meta: msg.meta } : {}),
    ...(msg.encoded != null ? { codec: msg.encoded.codec } : {})
  }
  validateHeader(header, { campaign: msg.campaign, maxPayloadBytes })
  const headerBytes = new TextEncoder().encode(JSON.stringify(header)).length
  if (headerBytes > MAX_TENSOR_HEADER_BYTES) throw new OversizedError(`tensor header of ${headerBytes} bytes exceeds ${MAX_TENSOR_HEADER_BYTES}`)
  return header
}

/** `type | u32 BE length | json`, refusing JSON over MAX_TENSOR_HEADER_BYTES. */
export function encodeJsonRecord (type: number, value: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(value))
  if (json.length > MAX_TENSOR_HEADER_BYTES) throw new OversizedError(`record of ${json.length} bytes exceeds ${MAX_TENSOR_HEADER_BYTES}`)
  const out = new Uint8Array(PREFIX_BYTES + json.length)
  out[0] = type
  new DataView(out.buffer).setUint32(1, json.length)
  out.set(json, PREFIX_BYTES)
  return out
}

export function encodeHeader (header: TensorHeader): Uint8Array {
  return encodeJsonRecord(MSG_TENSOR, header)
}

export function encodeAck (header: TensorHeader): Uint8Array {
  const ack: Ack = { v: TENSOR_VERSION, microbatch: header.microbatch, routeStep: header.routeStep, kind: header.kind, sha256: header.sha256 }
  return encodeJsonRecord(MSG_ACK, ack)
}

export function encodeNack (error: unknown, final: boolean): Uint8Array {
  const e = error as { name?: unknown, message?: unknown } | undefined
  const name = typeof e?.name === 'string' ? e.name.slice(0, 64) : 'Error'
  const message = typeof e?.message === 'string' ? e.message.slice(0, 1024) : String(error).slice(0, 1024)
  return encodeJsonRecord(MSG_NACK, { v: TENSOR_VERSION, error: name, message, final } satisfies Nack)
}

export function encodeFramePrefix (n: number): Uint8Array {
  const out = new Uint8Array(FRAME_PREFIX_BYTES)
  new DataView(out.buffer).setUint32(0, n)
  return out
}

/** Payload frame sizes for `payloadBytes`: full MAX_FRAME_BYTES frames and the rest. */
export function frameSizes (payloadBytes: number, frameBytes = MAX_FRAME_BYTES): number[] {
  const sizes: number[] = []
  for (let off = 0; off < payloadBytes; off += frameBytes) sizes.push(Math.min(frameBytes, payloadBytes - off))
  return sizes
}

// ---- decoding and validation

/** Reads the u32 length after a type byte and checks it against MAX_TENSOR_HEADER_BYTES. */
export function recordLength (prefix: Uint8Array): number {
  const n = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength).getUint32(1)
  if (n === 0) throw new MalformedFrameError('empty header')
  if (n > MAX_TENSOR_HEADER_BYTES) throw new OversizedError(`header of ${n} bytes exceeds ${MAX_TENSOR_HEADER_BYTES}`)
  return n
}

/** The length of a payload frame, checked against what is left of the payload and MAX_FRAME_BYTES. */
export function frameLength (prefix: Uint8Array, remaining: number): number {
  const n = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength).getUint32(0)
  if (n === 0) throw new MalformedFrameError('empty frame')
  if (n > MAX_FRAME_BYTES) throw new MalformedFrameError(`frame of ${n} bytes exceeds ${MAX_FRAME_BYTES}`)
  if (n > remaining) throw new MalformedFrameError(`frame of ${n} bytes overruns the payload by ${n - remaining}`)
  return n
}

export function parseJson (bytes: Uint8Array): unknown {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    throw new MalformedFrameError('header is not UTF-8')
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new MalformedFrameError('header is not JSON')
  }
}

/** Parses and validates header JSON bytes (without the 5-byte prefix). */
export function decodeHeader (json: Uint8Array, limits: HeaderLimits): TensorHeader {
  const value = parseJson(json)
  validateHeader(value, limits)
  return value
}

/**
 * Checks everything a header declares, cheapest first, before any payload is allocated:
 * exact keys, version, types, campaign, dtype, shape (1..MAX_TENSOR_RANK positive integers),
 * payloadBytes ≤ the limit and = product(shape)·bytesPerElement, digest syntax.
 */
export function validateHeader (value: unknown, limits: HeaderLimits): asserts value is TensorHeader {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedFrameError('header is not an object')
  const h = value as Record<string, unknown>
  const keys = Object.keys(h)
  const unknown = keys.filter(k => !(HEADER_KEYS as readonly string[]).includes(k) && k !== 'meta' && k !== 'codec')
  if (unknown.length > 0) throw new MalformedFrameError(`unknown header field ${JSON.stringify(unknown[0]).slice(0, 80)}`)
  for (const k of HEADER_KEYS) if (!(k in h)) throw new MalformedFrameError(`header lacks ${k}`)
  if (h.v !== TENSOR_VERSION) throw new MalformedFrameError(`header version ${String(h.v).slice(0, 20)} is not ${TENSOR_VERSION}`)
  if (typeof h.campaign !== 'string' || !CAMPAIGN.test(h.campaign)) throw new MalformedFrameError('campaign is not an id')
  if (h.campaign !== limits.campaign) throw new WrongCampaignError(`tensor for campaign ${h.campaign}, this stage trains ${limits.campaign}`)
  for (const k of ['microbatch', 'routeStep', 'optimizerStep', 'payloadBytes'] as const) {
    if (!Number.isSafeInteger(h[k]) || (h[k] as number) < 0) throw new MalformedFrameError(`${k} is not a non-negative integer`)
  }
  if (typeof h.kind !== 'string' || !KINDS.includes(h.kind)) throw new MalformedFrameError(`unknown kind ${String(h.kind).slice(0, 20)}`)
  if (typeof h.dtype !== 'string' || !Object.hasOwn(BYTES_PER_ELEMENT, h.dtype)) throw new MalformedFrameError(`unknown dtype ${String(h.dtype).slice(0, 20)}`)
  if (typeof h.sha256 !== 'string' || !HEX64.test(h.sha256)) throw new MalformedFrameError('sha256 is not 64 lowercase hex digits')
  const payloadBytes = h.payloadBytes as number
  if (payloadBytes > limits.maxPayloadBytes) throw new OversizedError(`payload of ${payloadBytes} bytes exceeds the campaign's ${limits.maxPayloadBytes}`)
  const shape = h.shape
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > MAX_TENSOR_RANK) throw new MalformedFrameError(`shape must have 1..${MAX_TENSOR_RANK} dimensions`)
  let codec: WireCodec | undefined
  if ('codec' in h) {
    try {
      codec = parseWireCodec(h.codec)
    } catch (err) {
      throw new MalformedFrameError((err as Error).message)
    }
    if (h.dtype !== 'f32') throw new MalformedFrameError(`codec ${codec.name} decodes to f32, header says ${h.dtype}`)
  }
  // Multiply step by step and stop once past the declared length, so nothing overflows. Every
  // codec so far spends at least one byte per element, so the bound holds for encoded payloads too.
  let bytes = codec != null ? 1 : BYTES_PER_ELEMENT[h.dtype as TensorDType]
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || (d as number) < 1) throw new MalformedFrameError('shape dimensions must be positive integers')
    bytes *= d as number
    if (bytes > payloadBytes) throw new MalformedFrameError(`shape ${JSON.stringify(shape).slice(0, 80)} needs more than the declared ${payloadBytes} bytes`)
  }
  if (codec != null) bytes = codecOf(codec.name).encodedBytes(shape as number[])
  if (bytes !== payloadBytes) throw new MalformedFrameError(`shape ${JSON.stringify(shape)} needs ${bytes} bytes, header declares ${payloadBytes}`)
}

/** Parses an ack/nack record body for a reply of the given type byte. */
export function decodeReply (type: number, json: Uint8Array): Reply {
  const value = parseJson(json) as Record<string, unknown> | null
  if (typeof value !== 'object' || value === null || value.v !== TENSOR_VERSION) throw new MalformedFrameError('reply is not a version-1 object')
  if (type === MSG_ACK) {
    if (!Number.isSafeInteger(value.microbatch) || !Number.isSafeInteger(value.routeStep) ||
      typeof value.kind !== 'string' || typeof value.sha256 !== 'string') throw new MalformedFrameError('malformed ack')
    return { type: 'ack', ack: value as unknown as Ack }
  }
  if (type === MSG_NACK) {
    if (typeof value.error !== 'string' || typeof value.message !== 'string' || typeof value.final !== 'boolean') throw new MalformedFrameError('malformed nack')
    return { type: 'nack', nack: value as unknown as Nack }
  }
  throw new MalformedFrameError(`unknown reply type 0x${type.toString(16)}`)
}

/** A typed view over a received payload buffer (freshly allocated, so always aligned). */
export function tensorData (dtype: TensorDType, buffer: ArrayBuffer): TensorData {
  return dtype === 'f32' ? new Float32Array(buffer) : new Uint32Array(buffer)
}

/**
 * The tensor a received payload (whose digest checked out) carries: a view for raw payloads, the
 * decoded float32 elements for encoded ones. A payload its codec refuses (a NaN scale, say) is a
 * MalformedFrameError: the sender broke the protocol.
 */
export function decodePayload (header: TensorHeader, buffer: ArrayBuffer): TensorData {
  if (header.codec == null || header.codec.name === 'fp32') return tensorData(header.dtype, buffer)
  try {
    return codecOf(header.codec.name).decode(new Uint8Array(buffer), header.shape)
  } catch (err) {
    throw new MalformedFrameError(`microbatch ${header.microbatch} hop ${header.routeStep}: ${(err as Error).message}`)
  }
}
