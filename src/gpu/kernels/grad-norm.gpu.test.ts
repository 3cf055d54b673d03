import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../device.ts'
import { randomArray } from '../numerics.ts'
import { createTensor, readTensor } from '../tensor.ts'
import { globalNorm } from '../../model/cpu/gradnorm.ts'
import { GradNorm } from './grad-norm.ts'
import { runPass, expectClose } from '../testing.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

const run = async (label: string, record: (pass: GPUComputePassEncoder) => void): Promise<void> => { await runPass(device, label, record) }

describe('grad-norm', () => {
  for (const [n, blocks, maxNorm] of [[1961, undefined, 0], [37 * 53 * 7, 5, 1], [64, undefined, 100], [100_003, 3, 10]] as const) {
    test(`norm and clip scale match float64 (n=${n}, blocks=${blocks ?? 'default'}, maxNorm=${maxNorm})`, async () => {
      const g = randomArray(n, n, 0.1)
      const want = globalNorm([Float64Array.from(g)])
      const out = createTensor(device, [3], 'out')
      const gn = new GradNorm(device, n, { blocks, maxNorm })
      await run('test.grad-norm', pass => gn.encode(pass, out, createTensor(device, [n], 'grads', g)))
      const got = await readTensor(device, out)
      const scale = maxNorm > 0 && want > maxNorm ? maxNorm / want : 1
      expectClose('[scale, norm, sumsq]', got, [scale, want, want * want])
    })
  }

  test('bit-identical across runs', async () => {
    const n = 5000
    const grads = createTensor(device, [n], 'grads', randomArray(n, 3))
    const gn = new GradNorm(device, n, { blocks: 7 })
    const once = async (): Promise<number[]> => {
      const out = createTensor(device, [3], 'out')
      await run('test.grad-norm.det', pass => gn.encode(pass, out, grads))
      return Array.from(await readTensor(device, out))
    }
    expect(await once()).toEqual(await once())
  })
})
