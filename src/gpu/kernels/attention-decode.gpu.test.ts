import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { attentionForward } from '../../model/cpu/attention.ts'
import { requestTabgradDevice } from '../device.ts'
import { compareClose, describeClose, randomArray } from '../numerics.ts'
import { createTensor, readTensor, writeTensor } from '../tensor.ts'
import { DecodeAttention, KvCache } from './attention-decode.ts'

let device: GPUDevice

beforeAll(async () => { device = (await requestTabgradDevice()).device })
afterAll(() => device?.destroy())

/** Row b, position t of a (B, T, W) array. */
const rowOf = (x: Float32Array | Float64Array, B: number, T: number, W: number, b: number, t: number): Float32Array | Float64Array => x.subarray((b * T + t) * W, (b * T + t + 1) * W)

/**
 * Feeds each row's tokens one at a time through the cache. `starts[b]` is the step at which row b
 * is reset and begins its sequence (a later request taking an evicted row); returns every output.
 */
async function decodeAll (B: number, T: number, C: number, NH: number, qkv: Float32Array, starts: number[], maxT = T): Promise<Float32Array[][]> {
  const plan = new DecodeAttention(device, B, C, NH, maxT)
  const cache = new KvCache(device, B, C, NH, maxT)
  const step = createTensor(device, [B, 1, 3 * C], 'test.decode.qkv')
  const out = createTensor(device, [B, 1, C], 'test.decode.out')
  const outs: Float32Array[][] = Array.from({ length: B }, () => [])
  const steps = Math.max(...starts) + T
  for (let s = 0; s < steps; s++) {
    const x = new Float32Array(B * 3 * C)
    for (let b = 0; b < B; b++) {
      if (s === starts[b]) cache.reset(b)
      const t = Math.min(Math.max(s - starts[b], 0), T - 1) // before its start a row decodes filler, after its end it repeats
      x.set(rowOf(qkv, B, T, 3 * C, b, t), b * 3 * C)
    }
    for (let b = 0; b < B; b++) if (s - starts[b] >= T) cache.reset(b)
    writeTensor(device, step, x)
    const enc = device.createCommandEncoder()
    const pass = enc.beginComputePass()
    plan.decode(pass, out, step, cache)
    pass.end()
    device.queue.submit([enc.finish()])
    const y = await readTensor(device, out)
    for (let b = 0; b < B; b++) if (s >= starts[b] && s - starts[b] < T) outs[b].push(y.slice(b * C, (b + 1) * C))
  }
  plan.destroy(); cache.destroy(); step.buffer.destroy(); out.buffer.destroy()
  return outs
}

async function checkAgainstReference (B: number, T: number, C: number, NH: number, starts = new Array<number>(B).fill(0), scale = 1): Promise<void> {
  const qkv = randomArray(B * T * 3 * C, 31 + T + C, scale)
  const want = attentionForward(Float64Array.from(qkv), B, T, C, NH).out
  const got = await decodeAll(B, T, C, NH, qkv, starts)
  for (let b = 0; b < B; b++) {
    expect(got[b]).toHaveLength(T)
    for (let t = 0; t < T; t++) {
      const r = compareClose(got[b][t], rowOf(want, B, T, C, b, t))
      expect(r.ok, `B=${B} T=${T} C=${C} NH=${NH} row ${b} position ${t}: ${describeClose('out', r)}`).toBe(true)
    }
  }
}

describe('decode attention with a KV cache vs the float64 causal attention, token by token', () => {
  test('odd shape: HS=12, B=2, T=37, NH=3', async () => { await checkAgainstReference(2, 37, 36, 3) })
  test('aligned: HS=16 NH=4 T=64, and HS=64 NH=2 T=32', async () => {
    await checkAgainstReference(1, 64, 64, 4)
    await checkAgainstReference(2, 32, 128, 2)
  })
  test('HS=256 (one lane group) and HS=4 (64 groups)', async () => {
    await checkAgainstReference(1, 9, 256, 1)
    await checkAgainstReference(1, 70, 8, 2)
  })
  test('large scores stay finite (max-subtracted softmax)', async () => {
    await checkAgainstReference(1, 29, 64, 2, [0], 6)
  })
  test('rows of different lengths share a dispatch; a reset row starts a new sequence', async () => {
    // Row 1 begins 11 steps late, in a row that decoded filler before: it must see only its own tokens.
    await checkAgainstReference(2, 23, 64, 4, [0, 11])
  })
  test('a full cache refuses another token until reset; shape mismatches are named', async () => {
    const cache = new KvCache(device, 1, 32, 2, 3)
    for (let i = 0; i < 3; i++) cache.claim()
    expect(() => { cache.claim() }).toThrow(/holds 3 positions/)
    cache.reset(0)
    expect(() => { cache.claim() }).not.toThrow()
    expect(cache.length(0)).toBe(1)
    cache.destroy()
    expect(() => new DecodeAttention(device, 1, 30, 2, 8)).toThrow(/multiple of 4/)
    expect(() => new DecodeAttention(device, 1, 64, 1, 1e6)).toThrow(/workgroup memory/)
  })
})
