// The hand-written ONNX encoder, checked by running its models in onnxruntime-web (wasm, on the CPU).
import * as ort from 'onnxruntime-web'
import { expect, test } from 'vitest'
import { onnxModel } from './onnx.ts'

test('a one-node Gemm model runs in onnxruntime-web and computes a·bᵀ', async () => {
  ort.env.wasm.numThreads = 1
  const model = onnxModel({
    nodes: [{ opType: 'Gemm', inputs: ['a', 'b'], outputs: ['y'], attributes: { transB: 1 } }],
    inputs: [{ name: 'a', dims: [2, 3] }, { name: 'b', dims: [2, 3] }],
    outputs: [{ name: 'y', dims: [2, 2] }]
  })
  const session = await ort.InferenceSession.create(model)
  const r = await session.run({
    a: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]),
    b: new ort.Tensor('float32', new Float32Array([1, 0, 0, 0, 1, 2]), [2, 3])
  })
  expect(r.y.dims).toEqual([2, 2])
  expect([...(r.y.data as Float32Array)]).toEqual([1, 8, 4, 17])
  await session.release()
})
