import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../device.ts'
import { randomArray } from '../numerics.ts'
import { createTensor, readTensor } from '../tensor.ts'
import { Residual } from './residual.ts'
import { runPass, expectClose } from '../testing.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

const run = async (label: string, record: (pass: GPUComputePassEncoder) => void): Promise<void> => { await runPass(device, label, record) }

// The float64 reference is one line each: out = a + b; da += dout; db += dout; dst += src.
const add = (x: ArrayLike<number>, y: ArrayLike<number>): Float64Array => Float64Array.from(x, (v, i) => v + y[i])

describe('residual', () => {
  for (const [shape, maxWorkgroups] of [[[37, 53], undefined], [[4, 64], undefined], [[37, 53], 2]] as const) {
    test(`forward, backward, accumulate match float64 (shape ${shape.join('x')}, maxWorkgroups ${maxWorkgroups ?? 'default'})`, async () => {
      const n = shape[0] * shape[1]
      const [a, b, dout, da0, db0] = [1, 2, 3, 4, 5].map(s => randomArray(n, s))
      const T = (label: string, d?: Float32Array) => createTensor(device, shape, label, d)
      const ta = T('a', a); const tb = T('b', b); const out = T('out'); const tdout = T('dout', dout)
      const da = T('da', da0); const db = T('db', db0); const dst = T('dst', a)
      const r = new Residual(device, shape, { maxWorkgroups })
      await run('test.residual', pass => {
        r.forward(pass, out, ta, tb)
        r.backward(pass, da, db, tdout)
        r.accumulate(pass, dst, tb)
      })
      expectClose('out', await readTensor(device, out), add(a, b))
      expectClose('da', await readTensor(device, da), add(da0, dout))
      expectClose('db', await readTensor(device, db), add(db0, dout))
      expectClose('dst', await readTensor(device, dst), add(a, b))
    })
  }

  test('rejects wrong shapes before dispatch', () => {
    const r = new Residual(device, [4, 8])
    const enc = device.createCommandEncoder(); const pass = enc.beginComputePass()
    const ok = createTensor(device, [4, 8], 'ok')
    expect(() => r.accumulate(pass, ok, createTensor(device, [32], 'flat'))).toThrow(expect.objectContaining({ name: 'ShapeError' }))
    pass.end()
  })
})
