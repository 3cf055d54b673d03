import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../device.ts'
import { randomArray } from '../numerics.ts'
import { createTensor, readTensor } from '../tensor.ts'
import { geluBackward, geluForward } from '../../model/cpu/gelu.ts'
import { dot, numericGrad } from '../../model/cpu/check.ts'
import { Gelu } from './gelu.ts'
import { runPass, expectClose, f64 } from '../testing.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

const run = async (label: string, record: (pass: GPUComputePassEncoder) => void): Promise<void> => { await runPass(device, label, record) }

describe('gelu', () => {
  for (const [shape, maxWorkgroups] of [[[37, 53], undefined], [[8, 256], undefined], [[37, 53], 3]] as const) {
    test(`forward and backward match float64 (shape ${shape.join('x')}, maxWorkgroups ${maxWorkgroups ?? 'default'})`, async () => {
      const n = shape[0] * shape[1]
      const inp = randomArray(n, 1, 4)
      inp.set([0, -0, 20, -20, 100, -100, 1e-3, -6]) // saturation and the origin
      const dout = randomArray(n, 2)
      const tInp = createTensor(device, shape, 'inp', inp)
      const out = createTensor(device, shape, 'out')
      const tDout = createTensor(device, shape, 'dout', dout)
      const dinp = createTensor(device, shape, 'dinp', randomArray(n, 3)) // overwritten
      const g = new Gelu(device, shape, { maxWorkgroups })
      await run('test.gelu', pass => {
        g.forward(pass, out, tInp)
        g.backward(pass, dinp, tInp, tDout)
      })
      expectClose('out', await readTensor(device, out), geluForward(f64(inp)))
      expectClose('dinp', await readTensor(device, dinp), geluBackward(f64(inp), f64(dout)))
    })
  }

  test('backward in place (dinp is dout) and against finite differences', async () => {
    const n = 12
    const x = f64(randomArray(n, 5, 3)); const w = f64(randomArray(n, 6))
    const fd = numericGrad(() => dot(w, geluForward(x)), x)
    const tInp = createTensor(device, [n], 'inp', Float32Array.from(x))
    const d = createTensor(device, [n], 'dout', Float32Array.from(w))
    const g = new Gelu(device, [n])
    await run('test.gelu.fd', pass => g.backward(pass, d, tInp, d))
    expectClose('dinp vs fd', await readTensor(device, d), fd, 1e-3, 1e-5)
  })

  test('rejects wrong shapes before dispatch', () => {
    const g = new Gelu(device, [4, 8])
    const enc = device.createCommandEncoder(); const pass = enc.beginComputePass()
    expect(() => g.forward(pass, createTensor(device, [8, 4], 'o'), createTensor(device, [4, 8], 'i'))).toThrow(expect.objectContaining({ name: 'ShapeError' }))
    pass.end()
  })
})
