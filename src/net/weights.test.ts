// The weights protocol over in-memory streams: a server that refuses a requester says why, and a
// reply whose sync weight is not a finite non-negative number is refused by the fetcher.
import { describe, expect, it } from 'vitest'
import type { Connection, Stream } from '@libp2p/interface'
import { memoryStreamPair } from './memory-stream.ts'
import { fetchWeights, serveWeights, type WeightsServerInit } from './weights.ts'

/** A connection whose every new stream is served by `init` as if from peer `from`. */
function connectionTo (init: WeightsServerInit, from: string): Connection {
  return {
    newStream: async () => {
      const [out, inb] = memoryStreamPair()
      void serveWeights(inb as unknown as Stream, from, init)
      return out as unknown as Stream
    }
  } as unknown as Connection
}

const req = { campaign: 'c', stage: 1, step: 'latest' as const }

describe('weights protocol', () => {
  it('serves a listed replica and tells an outsider it was refused, sending it nothing', async () => {
    const params = new Float32Array([1, 2, 3])
    const init: WeightsServerInit = {
      campaign: 'c',
      provide: async (_req, from) => {
        if (from !== 'replica') throw Object.assign(new Error(`${from} is not a replica of this stage`), { name: 'UnlistedPeerError' })
        return { step: 4, params, weight: 2 }
      }
    }
    const w = await fetchWeights(connectionTo(init, 'replica'), req, { expectElements: 3 })
    expect(Array.from(w.params)).toEqual([1, 2, 3])
    expect(w.weight).toBe(2)
    await expect(fetchWeights(connectionTo(init, 'outsider'), req, { expectElements: 3 }))
      .rejects.toMatchObject({ name: 'WeightsUnavailableError', message: expect.stringMatching(/UnlistedPeerError: outsider is not a replica/) })
  })

  it('refuses a reply whose sync weight is not a finite non-negative number', async () => {
    for (const weight of [-1, '1e30', { n: 1 }]) {
      const init: WeightsServerInit = { campaign: 'c', provide: async () => ({ step: 4, params: new Float32Array([1]), weight: weight as number }) }
      await expect(fetchWeights(connectionTo(init, 'replica'), req, { expectElements: 1 })).rejects.toMatchObject({ name: 'MalformedFrameError' })
    }
  })
})
