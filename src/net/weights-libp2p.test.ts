// The weights protocol between real libp2p nodes (WebSockets + noise + yamux on 127.0.0.1): the
// server learns who asks from the noise-authenticated connection, not from the request, so a
// peer cannot pose as a replica of the stage; an outsider is refused and gets no weights.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Libp2p } from 'libp2p'
import { testNode as node } from './test-node.ts'
import { fetchWeights, serveWeights, WEIGHTS_PROTOCOL } from './weights.ts'

const CAMPAIGN = '0123456789abcdef0123456789abcdef'


describe('weights protocol between libp2p nodes', () => {
  let server: Libp2p
  let replica: Libp2p
  let outsider: Libp2p
  const askedBy: string[] = []

  beforeAll(async () => {
    ;[server, replica, outsider] = await Promise.all([node(true), node(false), node(false)])
    const params = new Float32Array([1, 2, 3, 4])
    await server.handle(WEIGHTS_PROTOCOL, (stream, conn) => {
      void serveWeights(stream, conn.remotePeer.toString(), {
        campaign: CAMPAIGN,
        provide: async (_req, from) => {
          askedBy.push(from)
          if (from !== replica.peerId.toString()) throw Object.assign(new Error(`${from} is not a replica of this stage`), { name: 'UnlistedPeerError' })
          return { step: 3, params, weight: 2 }
        }
      })
    })
  })
  afterAll(async () => { await Promise.all([server, replica, outsider].map(async n => { await n.stop() })) })

  it('serves the replica and refuses the outsider, each known by its connection\'s PeerId', async () => {
    const req = { campaign: CAMPAIGN, stage: 1, step: 'latest' as const }
    const w = await fetchWeights(await replica.dial(server.getMultiaddrs()[0]), req, { expectElements: 4 })
    expect(Array.from(w.params)).toEqual([1, 2, 3, 4])
    await expect(fetchWeights(await outsider.dial(server.getMultiaddrs()[0]), req, { expectElements: 4 }))
      .rejects.toMatchObject({ name: 'WeightsUnavailableError', message: expect.stringContaining('UnlistedPeerError') })
    expect(askedBy).toEqual([replica.peerId.toString(), outsider.peerId.toString()])
  })
})
