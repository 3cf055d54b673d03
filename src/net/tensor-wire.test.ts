import { describe, expect, it } from 'vitest'
import { MAX_FRAME_BYTES, MAX_TENSOR_HEADER_BYTES } from './constants.ts'
import {
  decodeHeader, decodeReply, encodeAck, encodeHeader, encodeNack, frameLength, frameSizes, headerOf,
  MSG_ACK, MSG_NACK, PREFIX_BYTES, recordLength, validateHeader, type TensorHeader
} from './tensor-wire.ts'

const CAMPAIGN = '0123456789abcdef0123456789abcdef'
const DIGEST = 'ab'.repeat(32)
const limits = { campaign: CAMPAIGN, maxPayloadBytes: 1 << 20 }

function good (): TensorHeader {
  return { v: 1, campaign: CAMPAIGN, microbatch: 7, routeStep: 2, kind: 'activations', dtype: 'f32', shape: [2, 3, 4], payloadBytes: 96, sha256: DIGEST, optimizerStep: 11 }
}

function errorName (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    return (err as Error).name
  }
  return undefined
}

describe('tensor header validation', () => {
  it('accepts a well-formed header and round-trips it through its encoding', () => {
    const bytes = encodeHeader(good())
    expect(bytes[0]).toBe(0x54)
    const n = recordLength(bytes.subarray(0, PREFIX_BYTES))
    expect(decodeHeader(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + n), limits)).toEqual(good())
  })

  const cases: Array<[string, (h: Record<string, unknown>) => void, string]> = [
    ['an unknown field', h => { h.extra = 1 }, 'MalformedFrameError'],
    ['a missing field', h => { delete h.sha256 }, 'MalformedFrameError'],
    ['another version', h => { h.v = 2 }, 'MalformedFrameError'],
    ['another campaign', h => { h.campaign = 'f'.repeat(32) }, 'WrongCampaignError'],
    ['a campaign that is not an id', h => { h.campaign = 'a b' }, 'MalformedFrameError'],
    ['an unknown dtype', h => { h.dtype = 'f16' }, 'MalformedFrameError'],
    ['an unknown kind', h => { h.kind = 'weights' }, 'MalformedFrameError'],
    ['a negative microbatch', h => { h.microbatch = -1 }, 'MalformedFrameError'],
    ['a fractional route step', h => { h.routeStep = 1.5 }, 'MalformedFrameError'],
    ['a string optimizer step', h => { h.optimizerStep = '3' }, 'MalformedFrameError'],
    ['a zero dimension', h => { h.shape = [2, 0, 4]; h.payloadBytes = 0 }, 'MalformedFrameError'],
    ['a negative dimension', h => { h.shape = [-2, -3, 4] }, 'MalformedFrameError'],
    ['a fractional dimension', h => { h.shape = [2.5, 3, 4] }, 'MalformedFrameError'],
    ['an empty shape', h => { h.shape = [] }, 'MalformedFrameError'],
    ['a rank over 8', h => { h.shape = [1, 1, 1, 1, 1, 1, 1, 1, 24] }, 'MalformedFrameError'],
    ['a shape that is not an array', h => { h.shape = { 0: 24 } }, 'MalformedFrameError'],
    ['a length that disagrees with the shape', h => { h.payloadBytes = 100 }, 'MalformedFrameError'],
    ['a shape whose product overflows', h => { h.shape = [2 ** 40, 2 ** 40, 2 ** 40] }, 'MalformedFrameError'],
    ['a length over the campaign limit', h => { h.shape = [1 << 28]; h.payloadBytes = 1 << 30 }, 'OversizedError'],
    ['an uppercase digest', h => { h.sha256 = DIGEST.toUpperCase() }, 'MalformedFrameError'],
    ['a short digest', h => { h.sha256 = 'ab' }, 'MalformedFrameError']
  ]
  for (const [what, edit, name] of cases) {
    it(`refuses ${what} (${name})`, () => {
      const h = good() as unknown as Record<string, unknown>
      edit(h)
      expect(errorName(() => { validateHeader(h, limits) })).toBe(name)
    })
  }

  it('refuses bytes that are not a JSON object', () => {
    for (const text of ['', 'nul', '[1,2]', '"x"', 'null', '{"v":1']) {
      expect(errorName(() => decodeHeader(new TextEncoder().encode(text), limits))).toBe('MalformedFrameError')
    }
    expect(errorName(() => decodeHeader(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), limits))).toBe('MalformedFrameError')
  })

  it('refuses header lengths of 0 and over MAX_TENSOR_HEADER_BYTES from the prefix alone', () => {
    const prefix = new Uint8Array(PREFIX_BYTES)
    expect(errorName(() => recordLength(prefix))).toBe('MalformedFrameError')
    new DataView(prefix.buffer).setUint32(1, MAX_TENSOR_HEADER_BYTES + 1)
    expect(errorName(() => recordLength(prefix))).toBe('OversizedError')
    new DataView(prefix.buffer).setUint32(1, 0xffffffff)
    expect(errorName(() => recordLength(prefix))).toBe('OversizedError')
    new DataView(prefix.buffer).setUint32(1, MAX_TENSOR_HEADER_BYTES)
    expect(recordLength(prefix)).toBe(MAX_TENSOR_HEADER_BYTES)
  })

  it('checks frame lengths against MAX_FRAME_BYTES and the rest of the payload', () => {
    const p = (n: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b }
    expect(frameLength(p(MAX_FRAME_BYTES), MAX_FRAME_BYTES * 3)).toBe(MAX_FRAME_BYTES)
    expect(errorName(() => frameLength(p(0), 10))).toBe('MalformedFrameError')
    expect(errorName(() => frameLength(p(MAX_FRAME_BYTES + 1), MAX_FRAME_BYTES * 3))).toBe('MalformedFrameError')
    expect(errorName(() => frameLength(p(11), 10))).toBe('MalformedFrameError')
  })

  it('splits payloads into ≤1 MiB frames', () => {
    expect(frameSizes(4 * MAX_FRAME_BYTES + 12)).toEqual([MAX_FRAME_BYTES, MAX_FRAME_BYTES, MAX_FRAME_BYTES, MAX_FRAME_BYTES, 12])
    expect(frameSizes(MAX_FRAME_BYTES)).toEqual([MAX_FRAME_BYTES])
    expect(frameSizes(4)).toEqual([4])
  })

  it('builds a sender header from a message and refuses a data length that disagrees with the shape', () => {
    const msg = { campaign: CAMPAIGN, microbatch: 1, routeStep: 0, kind: 'gradients' as const, optimizerStep: 0, shape: [3, 5], data: new Float32Array(15) }
    expect(headerOf(msg, DIGEST)).toMatchObject({ dtype: 'f32', payloadBytes: 60, shape: [3, 5] })
    expect(headerOf({ ...msg, data: new Uint32Array(15) }, DIGEST).dtype).toBe('u32')
    expect(errorName(() => headerOf({ ...msg, shape: [4, 5] }, DIGEST))).toBe('MalformedFrameError')
  })

  it('encodes and decodes acks and nacks', () => {
    const ack = encodeAck(good())
    expect(ack[0]).toBe(MSG_ACK)
    expect(decodeReply(ack[0], ack.subarray(PREFIX_BYTES))).toEqual({ type: 'ack', ack: { v: 1, microbatch: 7, routeStep: 2, kind: 'activations', sha256: DIGEST } })
    const err = Object.assign(new Error('stale by 9 steps'), { name: 'StaleTensorError' })
    const nack = encodeNack(err, false)
    expect(nack[0]).toBe(MSG_NACK)
    expect(decodeReply(nack[0], nack.subarray(PREFIX_BYTES))).toEqual({ type: 'nack', nack: { v: 1, error: 'StaleTensorError', message: 'stale by 9 steps', final: false } })
    expect(errorName(() => decodeReply(0x99, ack.subarray(PREFIX_BYTES)))).toBe('MalformedFrameError')
  })
})
