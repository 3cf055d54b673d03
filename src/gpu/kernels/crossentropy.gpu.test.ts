import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../device.ts'
import { randomArray } from '../numerics.ts'
import { createTensor, createU32Tensor, readTensor } from '../tensor.ts'
import { crossEntropyForwardBackward } from '../../model/cpu/crossentropy.ts'
import { numericGrad } from '../../model/cpu/check.ts'
import { CrossEntropy } from './crossentropy.ts'
import { runPass, expectClose, f64 } from '../testing.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

const run = async (label: string, record: (pass: GPUComputePassEncoder) => void): Promise<void> => { await runPass(device, label, record) }

function problem (BT: number, V: number, seed: number): { logits: Float32Array, targets: Uint32Array } {
  const logits = randomArray(BT * V, seed, 3)
  // Rows far from zero: exp would overflow without the max subtraction.
  for (let c = 0; c < V; c++) { logits[c] += 1000; logits[V + c] -= 500 }
  const targets = Uint32Array.from(randomArray(BT, seed + 1), x => Math.floor((x + 1) / 2 * V))
  targets[BT - 1] = V - 1
  return { logits, targets }
}

describe('crossentropy', () => {
  for (const [BT, V] of [[37, 53], [8, 256], [5, 1001], [3, 7]]) {
    test(`losses and dlogits match float64 (BT=${BT}, V=${V})`, async () => {
      const { logits, targets } = problem(BT, V, BT * V)
      const tl = createTensor(device, [BT, V], 'logits', logits)
      const tt = createU32Tensor(device, [BT], 'targets', targets)
      const losses = createTensor(device, [BT], 'losses')
      const dlogits = createTensor(device, [BT, V], 'dlogits', randomArray(BT * V, 9)) // overwritten
      const ce = new CrossEntropy(device, BT, V)
      await run('test.crossentropy', pass => ce.forwardBackward(pass, losses, dlogits, tl, tt))
      const ref = crossEntropyForwardBackward(f64(logits), targets, BT, V)
      const got = await readTensor(device, losses)
      expectClose('losses', got, ref.losses)
      expectClose('mean loss', [got.reduce((a, b) => a + b, 0) / BT], [ref.loss])
      expectClose('dlogits', await readTensor(device, dlogits), ref.dlogits, 1e-4, 1e-7)
    })
  }

  test('in place (dlogits is logits), custom scale, forward only', async () => {
    const BT = 6; const V = 37; const scale = 0.125
    const { logits, targets } = problem(BT, V, 77)
    const tl = createTensor(device, [BT, V], 'logits', logits)
    const tt = createU32Tensor(device, [BT], 'targets', targets)
    const l1 = createTensor(device, [BT], 'losses1'); const l2 = createTensor(device, [BT], 'losses2')
    const ce = new CrossEntropy(device, BT, V, { scale })
    await run('test.crossentropy.inplace', pass => {
      ce.forward(pass, l1, tl, tt)
      ce.forwardBackward(pass, l2, tl, tl, tt)
    })
    const ref = crossEntropyForwardBackward(f64(logits), targets, BT, V)
    expectClose('forward-only losses', await readTensor(device, l1), ref.losses)
    expectClose('in-place losses', await readTensor(device, l2), ref.losses)
    expectClose('in-place dlogits', await readTensor(device, tl), ref.dlogits.map(x => x * BT * scale), 1e-4, 1e-7)
  })

  test('dlogits match finite differences of the float64 mean loss', async () => {
    const BT = 3; const V = 5
    const logits = f64(randomArray(BT * V, 31, 2)); const targets = Uint32Array.from([4, 0, 2])
    const fd = numericGrad(() => crossEntropyForwardBackward(logits, targets, BT, V).loss, logits)
    const tl = createTensor(device, [BT, V], 'logits', Float32Array.from(logits))
    const losses = createTensor(device, [BT], 'losses'); const d = createTensor(device, [BT, V], 'dlogits')
    const ce = new CrossEntropy(device, BT, V)
    await run('test.crossentropy.fd', pass => ce.forwardBackward(pass, losses, d, tl, createU32Tensor(device, [BT], 't', targets)))
    expectClose('dlogits vs fd', await readTensor(device, d), fd, 1e-3, 1e-6)
  })

  test('a target out of range gives a NaN loss; float targets are rejected', async () => {
    const ce = new CrossEntropy(device, 2, 4)
    const tl = createTensor(device, [2, 4], 'logits', randomArray(8, 3))
    const losses = createTensor(device, [2], 'losses')
    await run('test.crossentropy.bad', pass => ce.forward(pass, losses, tl, createU32Tensor(device, [2], 't', Uint32Array.from([1, 4]))))
    const got = await readTensor(device, losses)
    expect(Number.isFinite(got[0])).toBe(true)
    expect(got[1]).toBeNaN()
    const enc = device.createCommandEncoder(); const pass = enc.beginComputePass()
    expect(() => ce.forward(pass, losses, tl, createTensor(device, [2], 'f32 targets'))).toThrow(expect.objectContaining({ name: 'DTypeError' }))
    pass.end()
  })
})
