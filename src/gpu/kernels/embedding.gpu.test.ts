import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../device.ts'
import { randomArray } from '../numerics.ts'
import { createTensor, createU32Tensor, readTensor } from '../tensor.ts'
import { embeddingBackward, embeddingForward } from '../../model/cpu/embedding.ts'
import { dot, numericGrad } from '../../model/cpu/check.ts'
import { buildTokenIndex, Embedding } from './embedding.ts'
import { runPass, expectClose, f64 } from '../testing.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

const run = async (label: string, record: (pass: GPUComputePassEncoder) => void): Promise<void> => { await runPass(device, label, record) }

/** Tokens with many repeats (skewed towards small ids), as real text has. */
function tokensFor (n: number, V: number, seed: number): Uint32Array {
  return Uint32Array.from(randomArray(n, seed), x => Math.floor(((x + 1) / 2) ** 3 * V))
}

describe('buildTokenIndex', () => {
  test('groups positions by token in ascending order', () => {
    const idx = buildTokenIndex(Uint32Array.from([5, 2, 5, 0, 2, 5]), 2, 3, 8)
    const maxU = 6
    expect(idx[0]).toBe(3)
    expect(Array.from(idx.slice(1, 4))).toEqual([0, 2, 5])
    expect(Array.from(idx.slice(1 + maxU, 1 + maxU + 4))).toEqual([0, 1, 3, 6])
    expect(Array.from(idx.slice(2 + 2 * maxU))).toEqual([3, 1, 4, 0, 2, 5])
  })

  test('rejects a token outside the vocabulary', () => {
    expect(() => buildTokenIndex(Uint32Array.from([1, 8]), 1, 2, 8)).toThrow(RangeError)
  })
})

describe('embedding', () => {
  for (const [B, T, C, V, maxT] of [[3, 13, 53, 29, 17], [2, 16, 64, 256, 16], [4, 5, 7, 3, 5]]) {
    test(`forward and backward match float64 (B=${B}, T=${T}, C=${C}, V=${V}, maxT=${maxT})`, async () => {
      const tokens = tokensFor(B * T, V, B + T + C)
      const wte = randomArray(V * C, 1); const wpe = randomArray(maxT * C, 2)
      const dout = randomArray(B * T * C, 3); const dwte0 = randomArray(V * C, 4); const dwpe0 = randomArray(maxT * C, 5)
      const emb = new Embedding(device, B, T, C, V, maxT)
      const tTok = createU32Tensor(device, [B, T], 'tokens', tokens)
      const tIdx = createU32Tensor(device, [emb.indexLength], 'index', buildTokenIndex(tokens, B, T, V))
      const out = createTensor(device, [B, T, C], 'out')
      const dwte = createTensor(device, [V, C], 'dwte', dwte0); const dwpe = createTensor(device, [maxT, C], 'dwpe', dwpe0)
      await run('test.embedding', pass => {
        emb.forward(pass, out, tTok, createTensor(device, [V, C], 'wte', wte), createTensor(device, [maxT, C], 'wpe', wpe))
        emb.backward(pass, dwte, dwpe, createTensor(device, [B, T, C], 'dout', dout), tIdx)
      })
      expectClose('out', await readTensor(device, out), embeddingForward(tokens, f64(wte), f64(wpe), B, T, C))
      const g = embeddingBackward(f64(dout), tokens, B, T, C, V, maxT)
      expectClose('dwte', await readTensor(device, dwte), g.dwte.map((x, i) => x + dwte0[i]))
      expectClose('dwpe', await readTensor(device, dwpe), g.dwpe.map((x, i) => x + dwpe0[i]))
    })
  }

  test('backward matches finite differences of the float64 forward', async () => {
    const B = 2; const T = 3; const C = 2; const V = 4; const maxT = 4
    const tokens = Uint32Array.from([1, 3, 1, 1, 0, 3])
    const wte = f64(randomArray(V * C, 7)); const wpe = f64(randomArray(maxT * C, 8)); const w = f64(randomArray(B * T * C, 9))
    const loss = (): number => dot(w, embeddingForward(tokens, wte, wpe, B, T, C))
    const emb = new Embedding(device, B, T, C, V, maxT)
    const dwte = createTensor(device, [V, C], 'dwte'); const dwpe = createTensor(device, [maxT, C], 'dwpe')
    await run('test.embedding.fd', pass => emb.backward(pass, dwte, dwpe, createTensor(device, [B, T, C], 'dout', Float32Array.from(w)),
      createU32Tensor(device, [emb.indexLength], 'index', buildTokenIndex(tokens, B, T, V))))
    expectClose('dwte vs fd', await readTensor(device, dwte), numericGrad(loss, wte), 1e-4, 1e-6)
    expectClose('dwpe vs fd', await readTensor(device, dwpe), numericGrad(loss, wpe), 1e-4, 1e-6)
  })

  test('rejects float tokens and T > maxT', () => {
    expect(() => new Embedding(device, 1, 9, 4, 8, 8)).toThrow(expect.objectContaining({ name: 'ShapeError' }))
    const emb = new Embedding(device, 1, 2, 4, 8, 8)
    const enc = device.createCommandEncoder(); const pass = enc.beginComputePass()
    expect(() => emb.forward(pass, createTensor(device, [1, 2, 4], 'o'), createTensor(device, [1, 2], 'f32 tokens'),
      createTensor(device, [8, 4], 'wte'), createTensor(device, [8, 4], 'wpe'))).toThrow(expect.objectContaining({ name: 'DTypeError' }))
    pass.end()
  })
})
