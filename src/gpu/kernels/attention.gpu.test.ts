import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { attentionBackward, attentionForward } from '../../model/cpu/attention.ts'
import { requestTabgradDevice, type TabgradDevice } from '../device.ts'
import { compareClose, describeClose, randomArray } from '../numerics.ts'
import { alignElements, createBuffer, createTensor, readTensor, view, type GpuTensor } from '../tensor.ts'
import { Attention, ATTENTION_CONFIGS, attentionConfigName, attentionConfigs, defaultAttentionConfig, tuneAttention, type AttentionConfig, type AttentionInit } from './attention.ts'

let tg: TabgradDevice
let device: GPUDevice

beforeAll(async () => {
  tg = await requestTabgradDevice()
  device = tg.device
})

afterAll(() => device?.destroy())

/** A plain copy of the limits (GPUSupportedLimits' fields are getters, not own properties). */
function limitsOf (d: GPUDevice): Record<string, number> {
  const out: Record<string, number> = {}
  for (const k of ['maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension'] as const) out[k] = d.limits[k]
  return out
}

interface Run { out: Float32Array, lse: Float32Array, dqkv: Float32Array }

/** Forward then backward on the GPU, each tensor a view into one flat buffer (as the model binds them). */
async function runGpu (B: number, T: number, C: number, NH: number, qkv: Float32Array, dout: Float32Array, init: AttentionInit = {}): Promise<Run> {
  const plan = new Attention(device, B, T, C, NH, init)
  const sizes = [B * T * 3 * C, B * T * C, B * NH * T, B * T * C, B * T * 3 * C]
  const offsets: number[] = []
  let total = 0
  for (const n of sizes) { offsets.push(total); total = alignElements(total + n) }
  const flat = createBuffer(device, total, 'test.attention.flat')
  const [tQkv, tOut, tLse, tDout, tDqkv] = ([[B, T, 3 * C], [B, T, C], [B, NH, T], [B, T, C], [B, T, 3 * C]] as const)
    .map((shape, i): GpuTensor => view(flat, offsets[i], shape))
  device.queue.writeBuffer(flat, offsets[0] * 4, qkv.buffer, qkv.byteOffset, qkv.byteLength)
  device.queue.writeBuffer(flat, offsets[3] * 4, dout.buffer, dout.byteOffset, dout.byteLength)
  // poison the outputs so unwritten elements show up
  device.queue.writeBuffer(flat, offsets[4] * 4, new Float32Array(sizes[4]).fill(NaN).buffer)
  const enc = device.createCommandEncoder({ label: 'test.attention' })
  const pass = enc.beginComputePass({ label: 'test.attention' })
  plan.forward(pass, tOut, tLse, tQkv)
  plan.backward(pass, tDqkv, tDout, tQkv, tOut, tLse)
  pass.end()
  device.queue.submit([enc.finish()])
  const [out, lse, dqkv] = await Promise.all([readTensor(device, tOut), readTensor(device, tLse), readTensor(device, tDqkv)])
  plan.destroy()
  flat.destroy()
  return { out, lse, dqkv }
}

async function checkAgainstReference (B: number, T: number, C: number, NH: number, init: AttentionInit = {}, scale = 1): Promise<void> {
  const qkv = randomArray(B * T * 3 * C, 1000 + T + C, scale)
  const dout = randomArray(B * T * C, 2000 + T + C)
  const got = await runGpu(B, T, C, NH, qkv, dout, init)
  const want = attentionForward(Float64Array.from(qkv), B, T, C, NH)
  const wantD = attentionBackward(Float64Array.from(dout), Float64Array.from(qkv), B, T, C, NH)
  const cfg = `B=${B} T=${T} C=${C} NH=${NH} fwd ${init.forward != null ? attentionConfigName(init.forward) : 'default'} bwd ${init.backward != null ? attentionConfigName(init.backward) : 'default'}`
  for (const [name, g, w] of [['out', got.out, want.out], ['lse', got.lse, want.lse], ['dqkv', got.dqkv, wantD]] as const) {
    const r = compareClose(g, w)
    expect(r.ok, `${cfg}: ${describeClose(name, r)}`).toBe(true)
  }
}

describe('attention vs float64 reference', () => {
  for (const HS of [16, 32, 64, 128]) {
    test(`HS=${HS}, odd shape B=3 T=37 NH=2`, async () => { await checkAgainstReference(3, 37, 2 * HS, 2) })
    test(`HS=${HS}, aligned shape B=2 T=64 NH=2`, async () => { await checkAgainstReference(2, 64, 2 * HS, 2) })
  }

  test('T=1 and T=2', async () => {
    await checkAgainstReference(2, 1, 64, 4)
    await checkAgainstReference(1, 2, 64, 2)
  })

  test('large scores stay finite (online softmax rescaling)', async () => {
    await checkAgainstReference(1, 45, 64, 2, {}, 4)
  })
})

describe('attention block configs', () => {
  test('every head size has at least two configs per direction on this adapter', () => {
    for (const HS of [16, 32, 64, 128]) {
      for (const dir of ['forward', 'backward'] as const) {
        expect(attentionConfigs(dir, HS, device.limits).length, `${dir} HS=${HS}`).toBeGreaterThanOrEqual(2)
      }
    }
  })

  // Each candidate that fits, on a T that spans several blocks and ends mid-block.
  for (const HS of [32, 64]) {
    test(`HS=${HS}: every fitting config matches the reference`, async () => {
      const fwd = attentionConfigs('forward', HS, device.limits)
      const bwd = attentionConfigs('backward', HS, device.limits)
      for (let i = 0; i < Math.max(fwd.length, bwd.length); i++) {
        await checkAgainstReference(2, 41, 2 * HS, 2, { forward: fwd[i % fwd.length], backward: bwd[i % bwd.length] })
      }
    }, 300_000) // a pipeline build per config: slow on a busy SwiftShader machine
  }

  test('register-tiled backward (4 rows per thread) on an aligned shape', async () => {
    await checkAgainstReference(2, 64, 128, 2, { backward: { br: 16, bc: 16, tpr: 4, rm: 4 } })
  })

  test('defaults: 16×16 on small adapters, bigger blocks where 1024 threads and 48 KiB allow them', () => {
    const small = { ...limitsOf(device), maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupStorageSize: 32768 } as unknown as GPUSupportedLimits
    const big = { ...limitsOf(device), maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupSizeX: 1024, maxComputeWorkgroupStorageSize: 49152 } as unknown as GPUSupportedLimits
    const name = (c: AttentionConfig | undefined): string => c != null ? attentionConfigName(c) : 'none'
    expect(name(defaultAttentionConfig('forward', 64, small))).toBe('br16_bc16_tpr4')
    expect(name(defaultAttentionConfig('backward', 64, small))).toBe('br16_bc16_tpr4_rm2')
    expect(name(defaultAttentionConfig('backward', 128, small))).toBe('br16_bc8_tpr4')
    expect(name(defaultAttentionConfig('forward', 64, big))).toBe('br32_bc16_tpr4')
    expect(name(defaultAttentionConfig('backward', 64, big))).toBe('br32_bc32_tpr8')
    // too big for 48 KiB at HS=128: falls back to the first that fits
    expect(name(defaultAttentionConfig('backward', 128, big))).toBe('br16_bc16_tpr4_rm2')
  })

  test('tuneAttention times every fitting config and returns the fastest of each direction', async () => {
    const r = await tuneAttention(tg, 1, 9, 256, 2, { iterations: 1 })
    for (const dir of ['forward', 'backward'] as const) {
      const names = attentionConfigs(dir, 128, device.limits).map(attentionConfigName)
      expect(Object.keys(r.timings[dir]).sort()).toEqual([...names].sort())
      const fastest = Object.entries(r.timings[dir]).reduce((a, b) => b[1] < a[1] ? b : a)[0]
      expect(attentionConfigName(r[dir])).toBe(fastest)
    }
  }, 300_000)

  test('a config that does not fit is refused before dispatch', () => {
    const huge: AttentionConfig = { br: 64, bc: 64, tpr: 4 }
    expect(() => new Attention(device, 1, 8, 256, 2, { forward: huge })).toThrow(expect.objectContaining({ name: 'LimitError' }))
    expect(ATTENTION_CONFIGS.length).toBeGreaterThanOrEqual(2)
  })

  test('wrong shapes are refused', () => {
    const plan = new Attention(device, 1, 8, 64, 2)
    const qkv = createTensor(device, [1, 8, 3 * 64], 'test.qkv')
    const out = createTensor(device, [1, 8, 64], 'test.out')
    const badLse = createTensor(device, [1, 8, 2], 'test.lse')
    const enc = device.createCommandEncoder()
    const pass = enc.beginComputePass()
    expect(() => plan.forward(pass, out, badLse, qkv)).toThrow(expect.objectContaining({ name: 'ShapeError' }))
    pass.end()
    expect(() => new Attention(device, 1, 8, 60, 2)).toThrow(expect.objectContaining({ name: 'ShapeError' }))
  })
})

describe('attention backward by finite differences', () => {
  // Loss L = Σ w ∘ out, so dL/dout = w.
  const B = 2; const T = 5; const C = 32; const NH = 2

  test('float64 reference backward equals central differences of the reference forward', () => {
    const qkv = Float64Array.from(randomArray(B * T * 3 * C, 7))
    const w = Float64Array.from(randomArray(B * T * C, 8))
    const loss = (x: Float64Array): number => {
      const { out } = attentionForward(x, B, T, C, NH)
      let s = 0
      for (let i = 0; i < out.length; i++) s += out[i] * w[i]
      return s
    }
    const grad = attentionBackward(w, qkv, B, T, C, NH)
    const fd = new Float64Array(qkv.length)
    const eps = 1e-5
    for (let i = 0; i < qkv.length; i++) {
      const save = qkv[i]
      qkv[i] = save + eps; const lp = loss(qkv)
      qkv[i] = save - eps; const lm = loss(qkv)
      qkv[i] = save
      fd[i] = (lp - lm) / (2 * eps)
    }
    const r = compareClose(grad, fd, { rtol: 1e-6, atol: 1e-8 })
    expect(r.ok, describeClose('reference dqkv vs finite differences', r)).toBe(true)
  })

  test('GPU backward equals central differences of the GPU forward', async () => {
    const qkv = randomArray(B * T * 3 * C, 9)
    const w = randomArray(B * T * C, 10)
    const base = await runGpu(B, T, C, NH, qkv, w)
    const lossAt = async (x: Float32Array): Promise<number> => {
      const { out } = await runGpu(B, T, C, NH, x, w)
      let s = 0
      for (let i = 0; i < out.length; i++) s += out[i] * w[i]
      return s
    }
    // a handful of q, k and v entries of different rows and heads (fp32 forward: coarse eps)
    const eps = 1e-2
    const picks = [0, 5, C + 3, 2 * C + 17, 3 * C * 2 + 1, 3 * C * 4 + C + 20, 3 * C * 7 + 2 * C + 31, 3 * C * 9 + 30]
    for (const i of picks) {
      const x = qkv.slice()
      x[i] = qkv[i] + eps; const lp = await lossAt(x)
      x[i] = qkv[i] - eps; const lm = await lossAt(x)
      const fd = (lp - lm) / (2 * eps)
      const r = compareClose([base.dqkv[i]], [fd], { rtol: 2e-2, atol: 2e-3 })
      expect(r.ok, describeClose(`dqkv[${i}] vs finite difference`, r)).toBe(true)
    }
  })
})
