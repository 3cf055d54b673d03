// Matmul kernel vs the float64 CPU reference, on odd shapes (bounds-checked path) and
// tile-aligned ones (specialised path), for every layout, option and shipped tile config.
import { beforeAll, describe, expect, test } from 'vitest'
import { matmul as refMatmul } from '../../model/cpu/matmul.ts'
import { requestTabgradDevice } from '../device.ts'
import { compareClose, describeClose, randomArray } from '../numerics.ts'
import { createTensor, readTensor, type GpuTensor } from '../tensor.ts'
import { Matmul, TILE_CONFIGS, configName, operandShapes, type MatmulInit, type MatmulLayout, type TileConfig } from './matmul.ts'

let device: GPUDevice
beforeAll(async () => {
  device = (await requestTabgradDevice()).device
})

const f64 = (x: Float32Array): Float64Array => Float64Array.from(x)

interface Case {
  M: number
  K: number
  N: number
  layout: MatmulLayout
  bias?: boolean
  accumulate?: boolean
  batch?: number
  /** B broadcast over the batch (stride 0). */
  broadcastB?: boolean
  config?: TileConfig
  seed?: number
}

/** Runs one case on the GPU and on the CPU, returns the comparison and the plan. */
async function run (c: Case): Promise<{ plan: Matmul, report: ReturnType<typeof compareClose> }> {
  const { M, K, N, layout } = c
  const batch = c.batch ?? 1
  const seed = c.seed ?? 1
  const { a: aShape, b: bShape } = operandShapes(layout, M, K, N)
  const batched = (s: number[]): number[] => batch > 1 ? [batch, ...s] : s
  const bMats = c.broadcastB === true ? 1 : batch
  const aData = randomArray(batch * M * K, seed)
  const bData = randomArray(bMats * K * N, seed + 1)
  const biasData = randomArray(N, seed + 2)
  const outInit = randomArray(batch * M * N, seed + 3)

  const init: MatmulInit = { M, K, N, layout, bias: c.bias, accumulate: c.accumulate, batch, config: c.config }
  if (c.broadcastB === true) init.strides = { b: 0 }
  const plan = new Matmul(device, { ...init, label: `test.matmul.${layout}` })

  const a = createTensor(device, batched(aShape), 'test.a', aData)
  const b = createTensor(device, c.broadcastB === true ? bShape : batched(bShape), 'test.b', bData)
  const out = createTensor(device, batched([M, N]), 'test.out', outInit)
  let bias: GpuTensor | undefined
  if (c.bias === true) bias = createTensor(device, [N], 'test.bias', biasData)

  const enc = device.createCommandEncoder({ label: 'test.matmul' })
  const pass = enc.beginComputePass({ label: 'test.matmul' })
  plan.encode(pass, a, b, out, bias)
  pass.end()
  device.queue.submit([enc.finish()])
  const got = await readTensor(device, out)

  const want = new Float64Array(batch * M * N)
  for (let z = 0; z < batch; z++) {
    const bz = c.broadcastB === true ? 0 : z
    const r = refMatmul(f64(aData.subarray(z * M * K, (z + 1) * M * K)), f64(bData.subarray(bz * K * N, (bz + 1) * K * N)),
      M, K, N, layout, c.bias === true ? f64(biasData) : undefined)
    for (let i = 0; i < M * N; i++) want[z * M * N + i] = r[i] + (c.accumulate === true ? outInit[z * M * N + i] : 0)
  }
  for (const t of [a, b, out, bias]) t?.buffer.destroy()
  plan.destroy()
  return { plan, report: compareClose(got, want) }
}

function name (c: Case): string {
  const opts = [c.bias === true ? 'bias' : '', c.accumulate === true ? 'acc' : '', (c.batch ?? 1) > 1 ? `batch${c.batch}` : '',
    c.broadcastB === true ? 'bcastB' : '', c.config != null ? configName(c.config) : ''].filter(s => s !== '').join(',')
  return `${c.layout} M=${c.M} K=${c.K} N=${c.N}${opts !== '' ? ` (${opts})` : ''}`
}

async function check (c: Case, aligned: boolean): Promise<void> {
  const { plan, report } = await run(c)
  expect(plan.aligned, `${name(c)}: aligned variant`).toBe(aligned)
  expect(report.ok, describeClose(name(c), report)).toBe(true)
}

// ---- layouts and options with the default config (64x64 tiles)

describe('matmul matches the float64 reference', () => {
  for (const layout of ['nn', 'nt', 'tn'] as const) {
    test(`${layout}, odd shape`, async () => { await check({ M: 37, K: 53, N: 29, layout }, false) })
    test(`${layout}, tile-aligned shape`, async () => { await check({ M: 64, K: 32, N: 128, layout }, true) })
    test(`${layout}, bias + accumulate, odd shape`, async () => {
      await check({ M: 37, K: 53, N: 29, layout, bias: true, accumulate: true }, false)
    })
    test(`${layout}, bias + accumulate, aligned shape`, async () => {
      await check({ M: 64, K: 16, N: 64, layout, bias: true, accumulate: true }, true)
    })
  }
  test('batched nt, odd shape (attention scores)', async () => {
    await check({ M: 19, K: 8, N: 19, layout: 'nt', batch: 3 }, false)
  })
  test('batched nn, aligned, B broadcast over the batch', async () => {
    await check({ M: 64, K: 16, N: 64, layout: 'nn', batch: 2, broadcastB: true }, true)
  })
  test('tiny and skinny shapes', async () => {
    await check({ M: 1, K: 1, N: 1, layout: 'nn' }, false)
    await check({ M: 3, K: 130, N: 5, layout: 'tn' }, false)
    await check({ M: 70, K: 4, N: 1, layout: 'nt' }, false)
  })
})

// ---- every shipped tile config, aligned and not

describe('every tile config', () => {
  for (const config of TILE_CONFIGS) {
    test(configName(config), async () => {
      await check({ M: 128, K: 64, N: 128, layout: 'nn', config, seed: 7 }, true)
      await check({ M: 45, K: 21, N: 70, layout: 'nt', config, seed: 8 }, false)
    })
  }
})

// ---- contract checks

describe('shape contract', () => {
  test('wrong operand shapes throw ShapeError before dispatch', () => {
    const plan = new Matmul(device, { M: 8, K: 4, N: 8, layout: 'nt' })
    const a = createTensor(device, [8, 4], 'test.a')
    const bWrong = createTensor(device, [4, 8], 'test.b') // nt wants [N, K] = [8, 4]
    const out = createTensor(device, [8, 8], 'test.out')
    const enc = device.createCommandEncoder()
    const pass = enc.beginComputePass()
    let err: unknown
    try { plan.encode(pass, a, bWrong, out) } catch (e) { err = e }
    expect((err as Error)?.name).toBe('ShapeError')
    try { plan.encode(pass, a, a, out, a) } catch (e) { err = e }
    expect((err as Error)?.name).toBe('ShapeError')
    pass.end()
    enc.finish()
  })
  test('a config over the adapter limits throws LimitError', () => {
    let err: unknown
    try { new Matmul(device, { M: 8, K: 8, N: 8, layout: 'nn', config: { tileM: 512, tileN: 512, tileK: 32, threadM: 4, threadN: 4 } }) } catch (e) { err = e }
    expect((err as Error)?.name).toBe('LimitError')
  })
})
