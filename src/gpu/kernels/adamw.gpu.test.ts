import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../device.ts'
import { randomArray } from '../numerics.ts'
import { alignElements, createTensor, readTensor, writeTensor } from '../tensor.ts'
import { adamwStep } from '../../model/cpu/adamw.ts'
import { globalNorm } from '../../model/cpu/gradnorm.ts'
import { GradNorm } from './grad-norm.ts'
import { AdamW, type AdamWHyper, type AdamWSegment } from './adamw.ts'
import { runPass, expectClose } from '../testing.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

const run = async (label: string, record: (pass: GPUComputePassEncoder) => void): Promise<void> => { await runPass(device, label, record) }

const PAD = 12345 // padding between views must come out untouched

describe('adamw', () => {
  test('a stage-like flat buffer: matches float64 AdamW per view over 3 steps, decay on matrices only', async () => {
    // Views as a stage lays them out: 64-aligned, with padding between; 37x53 spans several tiles.
    const shapes = [[37, 53], [53], [16, 64], [5], [3, 700]]
    const segments: AdamWSegment[] = []
    let n = 0
    for (const s of shapes) {
      const len = s.reduce((a, b) => a * b)
      segments.push({ offset: n, length: len, decay: s.length === 2 })
      n += alignElements(len)
    }
    const param = randomArray(n, 1).map((x, i) => segments.some(s => i >= s.offset && i < s.offset + s.length) ? x : PAD)
    const ref = { param: Float64Array.from(param), m: new Float64Array(n), v: new Float64Array(n) }
    const tp = createTensor(device, [n], 'param', param)
    const tg = createTensor(device, [n], 'grad'); const tm = createTensor(device, [n], 'm'); const tv = createTensor(device, [n], 'v')
    const clip = createTensor(device, [1], 'clip')
    const h: AdamWHyper = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 }
    const adam = new AdamW(device, n, segments.slice().reverse()) // order of segments must not matter
    for (let step = 1; step <= 3; step++) {
      const grad = randomArray(n, 10 + step, 0.5)
      const gradScale = step === 2 ? 0.5 : 1
      const clipValue = step === 3 ? 0.25 : 1
      writeTensor(device, tg, grad)
      writeTensor(device, clip, new Float32Array([clipValue]))
      adam.setStep(step, h, gradScale)
      await run('test.adamw', pass => adam.update(pass, tp, tg, tm, tv, step === 1 ? undefined : clip))
      for (const s of segments) {
        const sl = (a: Float64Array): Float64Array => a.subarray(s.offset, s.offset + s.length)
        adamwStep(sl(ref.param), Float64Array.from(grad.subarray(s.offset, s.offset + s.length)), sl(ref.m), sl(ref.v), step,
          { ...h, weightDecay: s.decay ? h.weightDecay : 0 }, gradScale * clipValue)
      }
    }
    expectClose('param', await readTensor(device, tp), ref.param)
    expectClose('m', await readTensor(device, tm), ref.m, 1e-4, 1e-8)
    expectClose('v', await readTensor(device, tv), ref.v, 1e-4, 1e-10)
  })

  test('clipping without a CPU round trip: GradNorm writes the clip factor AdamW reads, in one pass', async () => {
    const n = 3000; const maxNorm = 2
    const grad = randomArray(n, 41); const param = randomArray(n, 42)
    const norm = globalNorm([Float64Array.from(grad)])
    expect(norm).toBeGreaterThan(maxNorm) // the clip must bite for the test to mean something
    const ref = { param: Float64Array.from(param), m: new Float64Array(n), v: new Float64Array(n) }
    const h: AdamWHyper = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }
    adamwStep(ref.param, Float64Array.from(grad), ref.m, ref.v, 1, h, maxNorm / norm)
    const tp = createTensor(device, [n], 'param', param); const tg = createTensor(device, [n], 'grad', grad)
    const tm = createTensor(device, [n], 'm'); const tv = createTensor(device, [n], 'v'); const out = createTensor(device, [3], 'norm')
    const gn = new GradNorm(device, n, { maxNorm })
    const adam = new AdamW(device, n, [{ offset: 0, length: n, decay: false }])
    adam.setStep(1, h)
    await run('test.adamw.clip', pass => {
      gn.encode(pass, out, tg)
      adam.update(pass, tp, tg, tm, tv, out)
    })
    expectClose('m', await readTensor(device, tm), ref.m, 1e-4, 1e-8)
    expectClose('param', await readTensor(device, tp), ref.param)
  })

  test('rejects overlapping segments and update before setStep', () => {
    expect(() => new AdamW(device, 256, [{ offset: 0, length: 100, decay: true }, { offset: 64, length: 10, decay: false }]))
      .toThrow(expect.objectContaining({ name: 'ShapeError' }))
    expect(() => new AdamW(device, 64, [{ offset: 0, length: 65, decay: true }])).toThrow(expect.objectContaining({ name: 'ShapeError' }))
    const adam = new AdamW(device, 64, [{ offset: 0, length: 64, decay: true }])
    const t = (): ReturnType<typeof createTensor> => createTensor(device, [64], 't')
    const enc = device.createCommandEncoder(); const pass = enc.beginComputePass()
    expect(() => adam.update(pass, t(), t(), t(), t())).toThrow(RangeError)
    pass.end()
  })
})
