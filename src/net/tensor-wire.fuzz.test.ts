// Property-based fuzzing of the tensor wire codec (fast-check, 10,000 cases per property): hostile
// header bytes, header objects with wrong types, huge numbers and prototype keys, and random
// record and frame prefixes. Each either decodes to a header whose every declared size holds, or
// fails with one of the codec's named errors: never a TypeError, a RangeError or an allocation.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { decodeHeader, decodeReply, frameLength, recordLength, MSG_ACK, MSG_NACK, BYTES_PER_ELEMENT, type TensorHeader } from './tensor-wire.ts'
import { MAX_FRAME_BYTES, MAX_TENSOR_HEADER_BYTES, MAX_TENSOR_RANK } from './constants.ts'
import { codecOf } from '../codec/registry.ts'

const RUNS = { numRuns: 10_000 }
const CAMPAIGN = '0123456789abcdef0123456789abcdef'
const LIMITS = { campaign: CAMPAIGN, maxPayloadBytes: 1 << 20 }
const NAMED = new Set(['MalformedFrameError', 'OversizedError', 'WrongCampaignError'])

/** Runs `f`; a throw must be one of the codec's named errors. */
function decodesOrRefuses<T> (f: () => T): T | undefined {
  try {
    return f()
  } catch (err) {
    if (!NAMED.has((err as Error).name)) throw err
    return undefined
  }
}

function checkHeader (h: TensorHeader): void {
  expect(h.payloadBytes).toBeLessThanOrEqual(LIMITS.maxPayloadBytes)
  expect(h.shape.length).toBeGreaterThanOrEqual(1)
  expect(h.shape.length).toBeLessThanOrEqual(MAX_TENSOR_RANK)
  // An encoded payload has the size its codec gives for the shape; a raw one, elements × bytes.
  if (h.codec != null) expect(codecOf(h.codec.name).encodedBytes(h.shape)).toBe(h.payloadBytes)
  else expect(h.shape.reduce((n, d) => n * d, BYTES_PER_ELEMENT[h.dtype])).toBe(h.payloadBytes)
  expect(h.campaign).toBe(CAMPAIGN)
}

const valid: TensorHeader = { v: 1, campaign: CAMPAIGN, microbatch: 7, routeStep: 1, kind: 'activations', dtype: 'f32', shape: [4, 8, 16], payloadBytes: 2048, sha256: 'a'.repeat(64), optimizerStep: 3 }
const hostileValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(2 ** 53, 2 ** 64, -1, -0, 1e308, 0.5, Number.MAX_SAFE_INTEGER, '1', '', null, [], {}, [1e9, 1e9, 1e9], 'gradients', 'u32', 'x'.repeat(70)),
  // Codec values, valid and not: with `payloadBytes` 2048 for [4, 8, 16], q8 is the wrong size unless the shape changed too.
  fc.constantFrom({ name: 'q8', rounding: 'nearest' }, { name: 'q8', rounding: 'stochastic', seed: 5 }, { name: 'fp32' }, { name: 'q8' }, { name: 'q8', rounding: 'stochastic', seed: 2 ** 40 }, { name: '__proto__' }, 640, [2, 4]),
  fc.array(fc.integer({ min: -2, max: 2 ** 31 }), { maxLength: 10 })
)
const hostileKey = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'prototype', 'peerId', 'meta', 'codec', ...Object.keys(valid)), fc.string({ maxLength: 12 }))

describe('tensor wire fuzz', () => {
  it('random bytes as header JSON: decoded headers are consistent, everything else is refused by name', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), bytes => {
      const h = decodesOrRefuses(() => decodeHeader(bytes, LIMITS))
      if (h != null) checkHeader(h)
    }), RUNS)
  })

  it('a valid header with fields replaced, added or removed: consistent or refused by name', () => {
    const edits = fc.array(fc.oneof(
      fc.record({ op: fc.constant('set' as const), key: hostileKey, value: hostileValue }),
      fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...Object.keys(valid)) })
    ), { minLength: 1, maxLength: 4 })
    fc.assert(fc.property(edits, list => {
      // Built as JSON text, as a peer would send it (so `__proto__` becomes an own key, as JSON.parse makes it).
      const obj: Record<string, unknown> = JSON.parse(JSON.stringify(valid))
      for (const e of list) {
        if (e.op === 'delete') delete obj[e.key]
        else Object.defineProperty(obj, e.key, { value: e.value, enumerable: true, configurable: true, writable: true })
      }
      const bytes = new TextEncoder().encode(JSON.stringify(obj))
      const h = decodesOrRefuses(() => decodeHeader(bytes, LIMITS))
      if (h != null) checkHeader(h)
      expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    }), RUNS)
  })

  it('shapes with huge dimensions never overflow into an accepted header', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.integer({ min: 1, max: 2 ** 30 }), fc.constant(2 ** 53 - 1)), { minLength: 1, maxLength: 8 }), fc.integer({ min: 0, max: 2 ** 21 }), (shape, payloadBytes) => {
      const bytes = new TextEncoder().encode(JSON.stringify({ ...valid, shape, payloadBytes }))
      const h = decodesOrRefuses(() => decodeHeader(bytes, LIMITS))
      if (h != null) checkHeader(h)
    }), RUNS)
  })

  it('record and frame prefixes: lengths within the limits or refused by name', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 5, maxLength: 5 }), fc.integer({ min: 0, max: 2 ** 32 }), (prefix, remaining) => {
      const n = decodesOrRefuses(() => recordLength(prefix))
      if (n != null) expect(n >= 1 && n <= MAX_TENSOR_HEADER_BYTES).toBe(true)
      const f = decodesOrRefuses(() => frameLength(prefix.subarray(0, 4), remaining))
      if (f != null) expect(f >= 1 && f <= MAX_FRAME_BYTES && f <= remaining).toBe(true)
    }), RUNS)
  })

  it('replies: random ack/nack bodies decode to the right shape or are refused by name', () => {
    fc.assert(fc.property(fc.constantFrom(MSG_ACK, MSG_NACK, 0, 0xff), fc.oneof(fc.uint8Array({ maxLength: 128 }), fc.jsonValue().map(v => new TextEncoder().encode(JSON.stringify(v) ?? 'null'))), (type, bytes) => {
      const r = decodesOrRefuses(() => decodeReply(type, bytes))
      if (r?.type === 'ack') expect(Number.isSafeInteger(r.ack.microbatch)).toBe(true)
      if (r?.type === 'nack') expect(typeof r.nack.final).toBe('boolean')
    }), RUNS)
  })
})
