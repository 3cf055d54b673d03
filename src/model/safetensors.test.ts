import { describe, expect, it } from 'vitest'
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts'

/** A file from a raw header object and data bytes, unpadded (as other writers may produce). */
function rawFile (header: unknown, data: Uint8Array, headerText = JSON.stringify(header)): Uint8Array {
  const json = new TextEncoder().encode(headerText)
  const out = new Uint8Array(8 + json.length + data.length)
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true)
  out.set(json, 8)
  out.set(data, 8 + json.length)
  return out
}

function errName (fn: () => unknown): string {
  try { fn(); return 'no error' } catch (e) { return (e as Error).name }
}

const f32 = (...x: number[]): Uint8Array => new Uint8Array(Float32Array.from(x).buffer)

describe('safetensors container', () => {
  it('round-trips bit-exactly, NaN payloads and -0 included', () => {
    const odd = new Float32Array(new Uint32Array([0x7fc00001, 0x80000000, 0x00000001, 0x7f7fffff]).buffer)
    const bytes = encodeSafetensors([['a', { shape: [2, 2], data: odd }], ['b', { shape: [1], data: Float32Array.of(0.1) }]], { k: 'v' })
    expect(new DataView(bytes.buffer).getBigUint64(0, true) % 8n).toBe(0n) // padded header
    const file = decodeSafetensors(bytes)
    expect(new Uint32Array(file.tensors.get('a')!.data.buffer)).toEqual(new Uint32Array(odd.buffer))
    expect(file.tensors.get('a')!.shape).toEqual([2, 2])
    expect(file.tensors.get('b')!.data[0]).toBe(Math.fround(0.1))
    expect(file.metadata).toEqual({ k: 'v' })
    expect(encodeSafetensors(file.tensors, file.metadata)).toEqual(bytes)
  })

  it('reads files whose data does not start 4-byte aligned', () => {
    const bytes = rawFile({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32(1.5, -2), '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} ')
    expect(Array.from(decodeSafetensors(bytes).tensors.get('x')!.data)).toEqual([1.5, -2])
  })

  it('rejects truncated files', () => {
    const good = encodeSafetensors([['x', { shape: [4], data: Float32Array.of(1, 2, 3, 4) }]])
    expect(errName(() => decodeSafetensors(good.subarray(0, 5)))).toBe('CheckpointFormatError')
    expect(errName(() => decodeSafetensors(good.subarray(0, 20)))).toBe('CheckpointFormatError') // inside the header
    expect(errName(() => decodeSafetensors(good.subarray(0, good.length - 1)))).toBe('CheckpointFormatError') // inside the data
  })

  it('rejects a header that is not JSON, or not an object', () => {
    expect(errName(() => decodeSafetensors(rawFile(null, new Uint8Array(), '{"x": ')))).toBe('CheckpointFormatError')
    expect(errName(() => decodeSafetensors(rawFile([], new Uint8Array())))).toBe('CheckpointFormatError')
    expect(errName(() => decodeSafetensors(rawFile({ __metadata__: { a: 1 } }, new Uint8Array())))).toBe('CheckpointFormatError')
    expect(errName(() => decodeSafetensors(rawFile({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] } }, new Uint8Array())))).toBe('CheckpointFormatError')
    const huge = new Uint8Array(16); new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true)
    expect(errName(() => decodeSafetensors(huge))).toBe('CheckpointFormatError')
  })

  it('rejects offsets out of range, overlapping, leaving holes, or not matching the shape', () => {
    const data = f32(1, 2, 3, 4)
    const h = (a: number[], b: number[]): unknown => ({ a: { dtype: 'F32', shape: [(a[1] - a[0]) / 4], data_offsets: a }, b: { dtype: 'F32', shape: [(b[1] - b[0]) / 4], data_offsets: b } })
    expect(errName(() => decodeSafetensors(rawFile(h([0, 8], [8, 16]), data)))).toBe('no error')
    expect(errName(() => decodeSafetensors(rawFile(h([0, 8], [8, 20]), data)))).toBe('CheckpointFormatError') // out of range
    expect(errName(() => decodeSafetensors(rawFile(h([0, 8], [4, 12]), data)))).toBe('CheckpointFormatError') // overlap
    expect(errName(() => decodeSafetensors(rawFile(h([0, 4], [8, 16]), data)))).toBe('CheckpointFormatError') // hole
    expect(errName(() => decodeSafetensors(rawFile(h([0, 4], [4, 8]), data)))).toBe('CheckpointFormatError') // trailing bytes
    expect(errName(() => decodeSafetensors(rawFile(h([8, 0], [8, 16]), data)))).toBe('CheckpointFormatError') // begin > end
    expect(errName(() => decodeSafetensors(rawFile({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, data)))).toBe('CheckpointFormatError')
  })

  it('rejects dtypes other than F32 with CheckpointDTypeError', () => {
    const bytes = rawFile({ a: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4))
    expect(errName(() => decodeSafetensors(bytes))).toBe('CheckpointDTypeError')
  })
})
