import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../device.ts'
import { randomArray } from '../numerics.ts'
import { createBuffer, createTensor, readTensor, view, alignElements, type GpuTensor } from '../tensor.ts'
import { layernormBackward, layernormForward } from '../../model/cpu/layernorm.ts'
import { dot, numericGrad } from '../../model/cpu/check.ts'
import { LayerNorm } from './layernorm.ts'
import { runPass, expectClose, f64 } from '../testing.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

const run = async (label: string, record: (pass: GPUComputePassEncoder) => void): Promise<void> => { await runPass(device, label, record) }

/** Packs arrays as 64-aligned views of ONE buffer, as the model's flat buffers do (tests aliasing). */
function flat (arrays: Record<string, { shape: number[], data: Float32Array }>): Record<string, GpuTensor> {
  let total = 0
  const offsets: Record<string, number> = {}
  for (const [k, a] of Object.entries(arrays)) { offsets[k] = total; total += alignElements(a.data.length) }
  const buffer = createBuffer(device, total, 'test.flat')
  const out: Record<string, GpuTensor> = {}
  for (const [k, a] of Object.entries(arrays)) {
    device.queue.writeBuffer(buffer, offsets[k] * 4, a.data as Float32Array<ArrayBuffer>)
    out[k] = view(buffer, offsets[k], a.shape)
  }
  return out
}

describe('layernorm', () => {
  for (const [N, C] of [[37, 53], [8, 128]]) {
    test(`forwardResidual: sum = a + b written, LayerNorm(sum) matches float64 and the unfused pair bit for bit (N=${N}, C=${C})`, async () => {
      const a = randomArray(N * C, 11, 2); const b = randomArray(N * C, 12)
      const weight = randomArray(C, 13).map(x => 1 + x * 0.5); const bias = randomArray(C, 14, 0.2)
      const zeros = (n: number): Float32Array => new Float32Array(n)
      const t = flat({
        a: { shape: [N, C], data: a }, b: { shape: [N, C], data: b }, weight: { shape: [C], data: weight }, bias: { shape: [C], data: bias },
        sum: { shape: [N, C], data: zeros(N * C) }, out: { shape: [N, C], data: zeros(N * C) }, mean: { shape: [N], data: zeros(N) }, rstd: { shape: [N], data: zeros(N) },
        out2: { shape: [N, C], data: zeros(N * C) }, mean2: { shape: [N], data: zeros(N) }, rstd2: { shape: [N], data: zeros(N) }
      })
      const ln = new LayerNorm(device, N, C)
      const sum = Float32Array.from(a, (x, i) => x + b[i]) // float32 adds, as the residual kernel
      const plain = createTensor(device, [N, C], 'test.sum', sum)
      await run('test.layernorm.residual', pass => {
        ln.forwardResidual(pass, t.out, t.mean, t.rstd, t.sum, t.a, t.b, t.weight, t.bias)
        ln.forward(pass, t.out2, t.mean2, t.rstd2, plain, t.weight, t.bias)
      })
      expect(await readTensor(device, t.sum)).toEqual(sum)
      const ref = layernormForward(f64(a).map((x, i) => x + b[i]), f64(weight), f64(bias), N, C)
      expectClose('out', await readTensor(device, t.out), ref.out)
      expectClose('rstd', await readTensor(device, t.rstd), ref.rstd)
      expect(await readTensor(device, t.out)).toEqual(await readTensor(device, t.out2))
      expect(await readTensor(device, t.rstd)).toEqual(await readTensor(device, t.rstd2))
      plain.buffer.destroy()
    })
  }
  for (const [N, C] of [[37, 53], [8, 128], [3, 1000]]) {
    test(`forward and backward match float64 (N=${N}, C=${C})`, async () => {
      const inp = randomArray(N * C, 1, 2).map((x, i) => x + (i % 7) * 0.3) // non-zero mean per row
      const weight = randomArray(C, 2).map(x => 1 + x * 0.5)
      const bias = randomArray(C, 3, 0.2)
      const dout = randomArray(N * C, 4)
      const dinp0 = randomArray(N * C, 5)
      const dw0 = randomArray(C, 6)
      const db0 = randomArray(C, 7)
      const t = flat({
        inp: { shape: [N, C], data: inp },
        weight: { shape: [C], data: weight },
        bias: { shape: [C], data: bias },
        out: { shape: [N, C], data: new Float32Array(N * C) },
        mean: { shape: [N], data: new Float32Array(N) },
        rstd: { shape: [N], data: new Float32Array(N) },
        dout: { shape: [N, C], data: dout },
        dinp: { shape: [N, C], data: dinp0 },
        dweight: { shape: [C], data: dw0 },
        dbias: { shape: [C], data: db0 }
      })
      const ln = new LayerNorm(device, N, C, { rowsPerBlock: 16 }) // several partial-sum blocks, the last one short
      await run('test.layernorm', pass => {
        ln.forward(pass, t.out, t.mean, t.rstd, t.inp, t.weight, t.bias)
        ln.backward(pass, t.dinp, t.dweight, t.dbias, t.dout, t.inp, t.weight, t.mean, t.rstd)
      })
      const ref = layernormForward(f64(inp), f64(weight), f64(bias), N, C)
      expectClose('out', await readTensor(device, t.out), ref.out)
      expectClose('mean', await readTensor(device, t.mean), ref.mean)
      expectClose('rstd', await readTensor(device, t.rstd), ref.rstd)
      const g = layernormBackward(f64(dout), f64(inp), f64(weight), ref.mean, ref.rstd, N, C)
      // Backward accumulates onto what was there.
      expectClose('dinp', await readTensor(device, t.dinp), g.dinp.map((x, i) => x + dinp0[i]), 1e-4, 1e-4)
      expectClose('dweight', await readTensor(device, t.dweight), g.dweight.map((x, i) => x + dw0[i]), 1e-4, 1e-4)
      expectClose('dbias', await readTensor(device, t.dbias), g.dbias.map((x, i) => x + db0[i]), 1e-4, 1e-4)
    })
  }

  test('backward matches finite differences of the float64 forward (N=3, C=5)', async () => {
    const N = 3; const C = 5
    const inp = f64(randomArray(N * C, 11, 1.5)); const weight = f64(randomArray(C, 12).map(x => 1 + x))
    const bias = f64(randomArray(C, 13)); const w = f64(randomArray(N * C, 14))
    const loss = (): number => dot(w, layernormForward(inp, weight, bias, N, C).out)
    const fd = { dinp: numericGrad(loss, inp), dweight: numericGrad(loss, weight), dbias: numericGrad(loss, bias) }
    const T = (shape: number[], d: Float64Array | null, label: string): GpuTensor => createTensor(device, shape, label, d == null ? new Float32Array(shape.reduce((a, b) => a * b)) : Float32Array.from(d))
    const tInp = T([N, C], inp, 'inp'); const tW = T([C], weight, 'w'); const tB = T([C], bias, 'b')
    const out = T([N, C], null, 'out'); const mean = T([N], null, 'mean'); const rstd = T([N], null, 'rstd')
    const dout = T([N, C], w, 'dout'); const dinp = T([N, C], null, 'dinp'); const dw = T([C], null, 'dw'); const db = T([C], null, 'db')
    const ln = new LayerNorm(device, N, C, { rowsPerBlock: 2 })
    await run('test.layernorm.fd', pass => {
      ln.forward(pass, out, mean, rstd, tInp, tW, tB)
      ln.backward(pass, dinp, dw, db, dout, tInp, tW, mean, rstd)
    })
    expectClose('dinp vs fd', await readTensor(device, dinp), fd.dinp, 1e-3, 1e-4)
    expectClose('dweight vs fd', await readTensor(device, dw), fd.dweight, 1e-3, 1e-4)
    expectClose('dbias vs fd', await readTensor(device, db), fd.dbias, 1e-3, 1e-4)
  })

  test('dweight and dbias are bit-identical across runs (no atomics)', async () => {
    const N = 70; const C = 33
    const inp = createTensor(device, [N, C], 'inp', randomArray(N * C, 21))
    const weight = createTensor(device, [C], 'w', randomArray(C, 22))
    const mean = createTensor(device, [N], 'mean', randomArray(N, 23, 0.1))
    const rstd = createTensor(device, [N], 'rstd', randomArray(N, 24).map(x => 1 + 0.5 * x))
    const dout = createTensor(device, [N, C], 'dout', randomArray(N * C, 25))
    const ln = new LayerNorm(device, N, C, { rowsPerBlock: 8 })
    const once = async (): Promise<Float32Array[]> => {
      const dinp = createTensor(device, [N, C], 'dinp'); const dw = createTensor(device, [C], 'dw'); const db = createTensor(device, [C], 'db')
      await run('test.layernorm.det', pass => ln.backward(pass, dinp, dw, db, dout, inp, weight, mean, rstd))
      return [await readTensor(device, dw), await readTensor(device, db)]
    }
    const [a, b] = [await once(), await once()]
    expect(Array.from(a[0])).toEqual(Array.from(b[0]))
    expect(Array.from(a[1])).toEqual(Array.from(b[1]))
  })

  test('rejects wrong shapes before dispatch', () => {
    const ln = new LayerNorm(device, 4, 8)
    const good = createTensor(device, [4, 8], 'x'); const vec = createTensor(device, [8], 'v'); const rows = createTensor(device, [4], 'r')
    const bad = createTensor(device, [4, 9], 'bad')
    const enc = device.createCommandEncoder(); const pass = enc.beginComputePass()
    expect(() => ln.forward(pass, bad, rows, rows, good, vec, vec)).toThrow(expect.objectContaining({ name: 'ShapeError' }))
    pass.end()
  })
})
