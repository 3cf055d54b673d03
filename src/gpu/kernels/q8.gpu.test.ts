import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../device.ts'
import { randomArray } from '../numerics.ts'
import { createTensor, createU32Tensor, readTensor } from '../tensor.ts'
import { runPass } from '../testing.ts'
import { Q8Kernel, type Q8Rounding } from './q8.ts'
import { q8Decode, q8Encode, Q8_MAX } from '../../codec/q8.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

/** The kernel's encoding of x, read back as the wire payload (its first 4·rows + n bytes). */
async function gpuEncode (k: Q8Kernel, x: Float32Array, r: Q8Rounding): Promise<Uint8Array> {
  const tx = createTensor(device, [x.length], 'q8.x', x)
  const enc = createU32Tensor(device, [k.words], 'q8.enc')
  await runPass(device, 'test.q8.encode', pass => { k.encode(pass, tx, enc, r) })
  const words = await readTensor(device, enc)
  return new Uint8Array(words.buffer, 0, k.payloadBytes).slice()
}

async function gpuDecode (k: Q8Kernel, payload: Uint8Array): Promise<Float32Array> {
  const padded = new Uint8Array(4 * k.words)
  padded.set(payload)
  const enc = createU32Tensor(device, [k.words], 'q8.payload', new Uint32Array(padded.buffer))
  const tx = createTensor(device, [k.rows * k.cols], 'q8.out')
  await runPass(device, 'test.q8.decode', pass => { k.decode(pass, enc, tx) })
  return await readTensor(device, tx)
}

/** Compares the GPU payload with the float64 reference's: scales within float32 division error, values within one step (ties). */
function compare (gpu: Uint8Array, ref: Uint8Array, rows: number, cols: number): { maxScaleRel: number, differing: number } {
  expect(gpu.length).toBe(ref.length)
  const gs = new DataView(gpu.buffer, gpu.byteOffset); const rs = new DataView(ref.buffer, ref.byteOffset)
  let maxScaleRel = 0
  for (let r = 0; r < rows; r++) {
    const a = gs.getFloat32(4 * r, true); const b = rs.getFloat32(4 * r, true)
    maxScaleRel = Math.max(maxScaleRel, b === 0 ? Math.abs(a) : Math.abs(a - b) / b)
  }
  const gv = new Int8Array(gpu.buffer, gpu.byteOffset + 4 * rows, rows * cols)
  const rv = new Int8Array(ref.buffer, ref.byteOffset + 4 * rows, rows * cols)
  let differing = 0
  for (let i = 0; i < gv.length; i++) {
    expect(Math.abs(gv[i] - rv[i]), `value ${i}`).toBeLessThanOrEqual(1)
    if (gv[i] !== rv[i]) differing++
  }
  return { maxScaleRel, differing }
}

describe('q8 kernels vs the float64 reference', () => {
  // Odd (row length not a multiple of 4: words straddle rows) and aligned shapes, one longer than a workgroup.
  for (const shape of [[3, 5, 7], [4, 16, 64], [2, 130], [1, 1]]) {
    const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1)
    const cols = shape[shape.length - 1]
    test(`encode (nearest and stochastic) and decode, shape ${shape.join('x')}`, async () => {
      const x = randomArray(rows * cols, 11)
      for (let i = 0; i < x.length; i += 5) x[i] *= 8 // spread the magnitudes within rows
      const k = new Q8Kernel(device, shape)
      for (const r of [{ rounding: 'nearest' }, { rounding: 'stochastic', seed: 123456789 }] as Q8Rounding[]) {
        const gpu = await gpuEncode(k, x, r)
        const ref = q8Encode(x, shape, r.rounding === 'nearest' ? { name: 'q8', rounding: 'nearest' } : { name: 'q8', rounding: 'stochastic', seed: r.seed })
        const { maxScaleRel, differing } = compare(gpu, ref, rows, cols)
        console.log(`q8 ${shape.join('x')} ${r.rounding}: worst scale rel diff ${maxScaleRel.toExponential(2)}, ${differing}/${rows * cols} values one step apart`)
        expect(maxScaleRel).toBeLessThan(4e-7)
        expect(differing).toBeLessThanOrEqual(Math.ceil(rows * cols / 100))
        // Decoding is one correctly rounded multiply: bit-identical to the reference.
        expect(Array.from(await gpuDecode(k, gpu))).toEqual(Array.from(q8Decode(gpu, shape)))
        // And the round trip stays within the rounding's bound.
        const back = q8Decode(gpu, shape)
        for (let row = 0; row < rows; row++) {
          let absmax = 0
          for (let c = 0; c < cols; c++) absmax = Math.max(absmax, Math.abs(x[row * cols + c]))
          for (let c = 0; c < cols; c++) expect(Math.abs(back[row * cols + c] - x[row * cols + c])).toBeLessThanOrEqual((r.rounding === 'nearest' ? 0.5 : 1) * absmax / Q8_MAX * 1.0001)
        }
      }
      k.destroy()
    })
  }

  test('zero rows encode to zeros; a row with NaN or Infinity gets a NaN scale (the host refuses it)', async () => {
    const k = new Q8Kernel(device, [3, 6])
    const x = new Float32Array(18)
    x[7] = Infinity
    x[14] = NaN
    x[3] = 0.5
    const p = await gpuEncode(k, x, { rounding: 'nearest' })
    const s = new DataView(p.buffer)
    expect(Math.abs(s.getFloat32(0, true) / Math.fround(0.5 / 127) - 1)).toBeLessThan(4e-7)
    expect(Number.isNaN(s.getFloat32(4, true))).toBe(true)
    expect(Number.isNaN(s.getFloat32(8, true))).toBe(true)
    expect(() => q8Decode(p, [3, 6])).toThrow(expect.objectContaining({ name: 'CodecError' }))
    k.destroy()
  })
})
