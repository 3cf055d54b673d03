// The matmul's fused GELU epilogues vs the float64 reference (matmul, then GELU or its gradient),
// on odd (bounds-checked) and tile-aligned shapes, with the tensors placed as a stage places them.
import { beforeAll, describe, expect, test } from 'vitest'
import { matmul as refMatmul } from '../../model/cpu/matmul.ts'
import { geluBackward, geluForward } from '../../model/cpu/gelu.ts'
import { requestTabgradDevice } from '../device.ts'
import { randomArray } from '../numerics.ts'
import { createBuffer, createTensor, readTensor, view, writeTensor, alignElements } from '../tensor.ts'
import { expectClose, f64, runPass } from '../testing.ts'
import { Matmul, TILE_CONFIGS, operandShapes, type MatmulLayout } from './matmul.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

const SHAPES: Array<{ M: number, K: number, N: number, aligned: boolean }> = [
  { M: 37, K: 53, N: 29, aligned: false },
  { M: 64, K: 32, N: 128, aligned: true }
]

describe('matmul GELU epilogue', () => {
  for (const { M, K, N, aligned } of SHAPES) {
    test(`forward (nn + bias): out = x·W + b and gelu(out) in one dispatch, ${aligned ? 'aligned' : 'odd'} ${M}x${K}x${N}`, async () => {
      const layout: MatmulLayout = 'nn'
      const { a: aShape, b: bShape } = operandShapes(layout, M, K, N)
      const aData = randomArray(M * K, 1); const bData = randomArray(K * N, 2); const biasData = randomArray(N, 3)
      const plan = new Matmul(device, { M, K, N, layout, bias: true, epilogue: 'gelu', config: TILE_CONFIGS[0] })
      expect(plan.aligned).toBe(aligned)
      const a = createTensor(device, aShape, 'a', aData)
      const b = createTensor(device, bShape, 'b', bData)
      const bias = createTensor(device, [N], 'bias', biasData)
      // out and gelu(out) side by side in one buffer, as the stage's fch and fchGelu.
      const buf = createBuffer(device, 2 * alignElements(M * N), 'outs')
      const out = view(buf, 0, [M, N]); const act = view(buf, alignElements(M * N), [M, N])
      await runPass(device, 'gelu epilogue', pass => plan.encode(pass, a, b, out, bias, act))
      const pre = refMatmul(f64(aData), f64(bData), M, K, N, layout, f64(biasData))
      expectClose('out', await readTensor(device, out), pre)
      expectClose('gelu(out)', await readTensor(device, act), geluForward(pre))
      plan.destroy(); for (const t of [a, b, bias]) t.buffer.destroy(); buf.destroy()
    })

    test(`backward (nt): dx = (dy·Wᵀ) · gelu'(pre), ${aligned ? 'aligned' : 'odd'} ${M}x${K}x${N}`, async () => {
      const layout: MatmulLayout = 'nt'
      const { a: aShape, b: bShape } = operandShapes(layout, M, K, N)
      const aData = randomArray(M * K, 4); const bData = randomArray(K * N, 5); const preData = randomArray(M * N, 6)
      const plan = new Matmul(device, { M, K, N, layout, epilogue: 'gelu-backward', config: TILE_CONFIGS[2] })
      expect(plan.aligned).toBe(aligned && K % 8 === 0)
      const a = createTensor(device, aShape, 'dy', aData)
      const b = createTensor(device, bShape, 'w', bData)
      const pre = createTensor(device, [M, N], 'pre', preData)
      const out = createTensor(device, [M, N], 'dx')
      writeTensor(device, out, randomArray(M * N, 7)) // written, not accumulated
      await runPass(device, 'gelu backward epilogue', pass => plan.encode(pass, a, b, out, undefined, pre))
      const dpost = refMatmul(f64(aData), f64(bData), M, K, N, layout)
      expectClose('dx', await readTensor(device, out), geluBackward(f64(preData), dpost))
      plan.destroy(); for (const t of [a, b, pre, out]) t.buffer.destroy()
    })
  }

  test('aux is required, checked and refused where it would alias', () => {
    const plan = new Matmul(device, { M: 8, K: 4, N: 8, layout: 'nn', epilogue: 'gelu' })
    const a = createTensor(device, [8, 4], 'a'); const b = createTensor(device, [4, 8], 'b'); const out = createTensor(device, [8, 8], 'out')
    const enc = device.createCommandEncoder(); const pass = enc.beginComputePass()
    const errorOf = (f: () => void): string | undefined => { try { f() } catch (e) { return (e as Error).name } return undefined }
    expect(errorOf(() => plan.encode(pass, a, b, out))).toBe('ShapeError')
    expect(errorOf(() => plan.encode(pass, a, b, out, undefined, createTensor(device, [8, 4], 'small')))).toBe('ShapeError')
    expect(errorOf(() => plan.encode(pass, a, b, out, undefined, out))).toBe('ShapeError')
    expect(errorOf(() => new Matmul(device, { M: 8, K: 4, N: 8, layout: 'nt', epilogue: 'gelu-backward', accumulate: true }))).toBe('ShapeError')
    pass.end(); enc.finish()
  })
})
