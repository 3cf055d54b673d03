// The optional `meta` JSON (a route's work receipts) rides in the tensor header.
import { describe, expect, it } from 'vitest'
import type { Stream } from '@libp2p/interface'
import { memoryStreamPair } from './memory-stream.ts'
import { handleTensorStream, sendTensor, type ReceivedTensor } from './tensor-stream.ts'
import { MAX_TENSOR_HEADER_BYTES } from './constants.ts'

const CAMPAIGN = '0123456789abcdef0123456789abcdef'

describe('tensor meta', () => {
  it('delivers meta with the tensor, and nothing when absent', async () => {
    const got: ReceivedTensor[] = []
    const [out, inb] = memoryStreamPair()
    const done = handleTensorStream(inb as unknown as Stream, 'peer', { campaign: CAMPAIGN, onTensor: t => { got.push(t) } })
    const base = { campaign: CAMPAIGN, microbatch: 3, routeStep: 0, kind: 'activations' as const, optimizerStep: 1, shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) }
    const meta = { receipts: [{ receipt: { microbatch: 3 }, fromSig: 'abc' }] }
    await sendTensor(out as unknown as Stream, { ...base, meta })
    await sendTensor(out as unknown as Stream, base)
    await out.close()
    await done
    expect(got[0].meta).toEqual(meta)
    expect('meta' in got[1]).toBe(false)
    expect([...got[0].data]).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('refuses meta that would push the header past its limit, before sending', async () => {
    const [out] = memoryStreamPair()
    const huge = { pad: 'x'.repeat(MAX_TENSOR_HEADER_BYTES) }
    await expect(sendTensor(out as unknown as Stream, { campaign: CAMPAIGN, microbatch: 0, routeStep: 0, kind: 'gradients', optimizerStep: 0, shape: [1], data: new Float32Array(1), meta: huge }))
      .rejects.toThrowError(expect.objectContaining({ name: 'OversizedError' }))
  })
})
