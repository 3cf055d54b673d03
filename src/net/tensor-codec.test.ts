// Encoded tensors on the wire: the header names the codec, digests cover the encoded bytes, the
// receiver decodes, and a hostile encoded payload is a protocol violation that delivers nothing.
import { describe, expect, it } from 'vitest'
import type { Stream } from '@libp2p/interface'
import { sha256, toHex } from './byte-stream.ts'
import { memoryStreamPair } from './memory-stream.ts'
import { handleTensorStream, sendTensor, type ReceivedTensor } from './tensor-stream.ts'
import { decodeHeader, encodeFramePrefix, encodeHeader, encodeJsonRecord, headerOf, MSG_TENSOR, PREFIX_BYTES, type TensorHeader, type TensorMessage } from './tensor-wire.ts'
import { q8Encode } from '../codec/q8.ts'
import type { WireCodec } from '../codec/codec.ts'

const CAMPAIGN = '0123456789abcdef0123456789abcdef'
const limits = { campaign: CAMPAIGN, maxPayloadBytes: 1 << 20 }
const DIGEST = 'cd'.repeat(32)

function header (extra: Record<string, unknown>): Record<string, unknown> {
  return { v: 1, campaign: CAMPAIGN, microbatch: 3, routeStep: 1, kind: 'gradients', dtype: 'f32', shape: [2, 3, 5], payloadBytes: 6 * (4 + 5), sha256: DIGEST, optimizerStep: 0, ...extra }
}

function decode (h: Record<string, unknown>): TensorHeader {
  return decodeHeader(new TextEncoder().encode(JSON.stringify(h)), limits)
}

function nameOf (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return (err as Error).name }
  return undefined
}

function message (codec: WireCodec, shape = [3, 4, 7]): TensorMessage {
  const n = shape.reduce((a, b) => a * b, 1)
  const data = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)))
  return { campaign: CAMPAIGN, microbatch: 9, routeStep: 1, kind: 'activations', optimizerStep: 2, shape, data, encoded: { codec, payload: q8Encode(data, shape, codec) } }
}

describe('tensor header: codec field', () => {
  it('accepts q8 headers whose payloadBytes is the codec\'s size for the shape', () => {
    expect(decode(header({ codec: { name: 'q8', rounding: 'stochastic', seed: 12 } })).codec).toEqual({ name: 'q8', rounding: 'stochastic', seed: 12 })
    expect(decode(header({ codec: { name: 'q8', rounding: 'nearest' } })).payloadBytes).toBe(54)
    // Explicit fp32 is raw float32.
    expect(decode(header({ codec: { name: 'fp32' }, payloadBytes: 120 })).payloadBytes).toBe(120)
  })

  it('a header without codec (as before codecs) is raw fp32', () => {
    const h = decode(header({ payloadBytes: 120 }))
    expect('codec' in h).toBe(false)
  })

  it('refuses by name: wrong size, wrong dtype, unknown codec or rounding, extra parameters, bad seeds', () => {
    const bad: Array<Record<string, unknown>> = [
      header({ codec: { name: 'q8', rounding: 'nearest' }, payloadBytes: 120 }),
      header({ codec: { name: 'q8', rounding: 'nearest' }, payloadBytes: 53 }),
      header({ codec: { name: 'q8', rounding: 'nearest' }, dtype: 'u32' }),
      header({ codec: { name: 'q4', rounding: 'nearest' } }),
      header({ codec: { name: 'q8', rounding: 'up' } }),
      header({ codec: { name: 'q8', rounding: 'nearest', seed: 1 } }),
      header({ codec: { name: 'q8', rounding: 'stochastic' } }),
      header({ codec: { name: 'q8', rounding: 'stochastic', seed: -1 } }),
      header({ codec: { name: 'q8', rounding: 'stochastic', seed: 2 ** 32 } }),
      header({ codec: { name: 'q8', rounding: 'stochastic', seed: 1.5 } }),
      header({ codec: 'q8' }),
      header({ codec: null }),
      header({ codec: ['q8'] }),
      header({ codec: { name: 'fp32', k: 4 }, payloadBytes: 120 }),
      header({ codec: { name: 'q8', rounding: 'nearest' }, shape: [2 ** 30, 2 ** 30, 2 ** 30] })
    ]
    for (const h of bad) expect(nameOf(() => decode(h)), JSON.stringify(h.codec)).toBe('MalformedFrameError')
  })

  it('headerOf names the codec and sizes the encoded payload', () => {
    const msg = message({ name: 'q8', rounding: 'nearest' })
    const h = headerOf(msg, DIGEST)
    expect(h).toMatchObject({ dtype: 'f32', shape: [3, 4, 7], payloadBytes: 12 * (4 + 7), codec: { name: 'q8', rounding: 'nearest' } })
    const bytes = encodeHeader(h)
    expect(decode(JSON.parse(new TextDecoder().decode(bytes.subarray(PREFIX_BYTES))))).toEqual(h)
  })
})

describe('tensor stream: encoded tensors', () => {
  it('sends q8 activations and gradients: the digest covers the encoded bytes, the receiver gets the decoded floats', async () => {
    const got: ReceivedTensor[] = []
    const [out, inb] = memoryStreamPair({ maxChunkBytes: 13 })
    const done = handleTensorStream(inb as unknown as Stream, 'peer', { campaign: CAMPAIGN, onTensor: t => { got.push(t) } })
    const sent = [message({ name: 'q8', rounding: 'nearest' }), message({ name: 'q8', rounding: 'stochastic', seed: 77 }, [5, 33])]
    for (const m of sent) {
      const res = await sendTensor(out as unknown as Stream, m)
      expect(res.sha256).toBe(toHex(await sha256(m.encoded!.payload)))
    }
    await out.close()
    expect((await done).received).toBe(2)
    got.forEach((t, i) => {
      const m = sent[i]
      expect(t.payloadBytes).toBe(m.encoded!.payload.byteLength)
      expect(t.data).toBeInstanceOf(Float32Array)
      expect(t.data.length).toBe(m.data.length)
      let worst = 0
      for (let j = 0; j < m.data.length; j++) worst = Math.max(worst, Math.abs(t.data[j] - m.data[j]))
      // Rows' absmax ≤ 5: one quantum is 5/127; nearest stays within half of it.
      expect(worst).toBeGreaterThan(0)
      expect(worst).toBeLessThan(5 / 127)
    })
  })

  it('a payload with a NaN scale and a correct digest is a violation: nacked, nothing delivered', async () => {
    const got: ReceivedTensor[] = []
    const violations: string[] = []
    const [out, inb] = memoryStreamPair()
    const done = handleTensorStream(inb as unknown as Stream, 'evil', { campaign: CAMPAIGN, onTensor: t => { got.push(t) }, onViolation: (_p, err) => { violations.push(err.name) } })
    const m = message({ name: 'q8', rounding: 'nearest' })
    const payload = m.encoded!.payload.slice()
    new DataView(payload.buffer).setFloat32(0, NaN, true)
    const h = headerOf({ ...m, encoded: { codec: m.encoded!.codec, payload } }, toHex(await sha256(payload)))
    out.send(encodeJsonRecord(MSG_TENSOR, h))
    out.send(encodeFramePrefix(payload.length))
    out.send(payload)
    const summary = await done
    expect(summary.violation).toBe(true)
    expect(summary.error?.name).toBe('MalformedFrameError')
    expect(violations).toEqual(['MalformedFrameError'])
    expect(got).toEqual([])
  })
})
