import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../device.ts'
import { randomArray } from '../numerics.ts'
import { createTensor, readTensor } from '../tensor.ts'
import { matmul } from '../../model/cpu/matmul.ts'
import { dot, numericGrad } from '../../model/cpu/check.ts'
import { BiasGrad } from './bias-grad.ts'
import { runPass, expectClose } from '../testing.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

const run = async (label: string, record: (pass: GPUComputePassEncoder) => void): Promise<void> => { await runPass(device, label, record) }

/** Float64 reference: column sums of (M, N). */
function columnSums (dout: ArrayLike<number>, M: number, N: number): Float64Array {
  const s = new Float64Array(N)
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) s[n] += dout[m * N + n]
  return s
}

describe('bias-grad', () => {
  for (const [M, N, rowsPerBlock] of [[37, 53, undefined], [64, 256, undefined], [37, 53, 5], [1, 7, undefined]] as const) {
    test(`matches float64 column sums, accumulating (M=${M}, N=${N}, rowsPerBlock=${rowsPerBlock ?? 'default'})`, async () => {
      const dout = randomArray(M * N, M + N); const db0 = randomArray(N, 2)
      const db = createTensor(device, [N], 'dbias', db0)
      const bg = new BiasGrad(device, M, N, { rowsPerBlock })
      await run('test.bias-grad', pass => bg.backward(pass, db, createTensor(device, [M, N], 'dout', dout)))
      expectClose('dbias', await readTensor(device, db), columnSums(dout, M, N).map((x, i) => x + db0[i]))
    })
  }

  test('matches finite differences of the float64 linear layer w.r.t. its bias', async () => {
    const M = 4; const K = 3; const N = 5
    const a = Float64Array.from(randomArray(M * K, 1)); const b = Float64Array.from(randomArray(K * N, 2))
    const bias = Float64Array.from(randomArray(N, 3)); const w = Float64Array.from(randomArray(M * N, 4))
    const fd = numericGrad(() => dot(w, matmul(a, b, M, K, N, 'nn', bias)), bias)
    const db = createTensor(device, [N], 'dbias')
    const bg = new BiasGrad(device, M, N, { rowsPerBlock: 3 })
    await run('test.bias-grad.fd', pass => bg.backward(pass, db, createTensor(device, [M, N], 'dout', Float32Array.from(w))))
    expectClose('dbias vs fd', await readTensor(device, db), fd, 1e-4, 1e-6)
  })
})
