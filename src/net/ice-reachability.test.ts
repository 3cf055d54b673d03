import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { LinkLog, startReachabilityReports, verifyReachabilitySignature, type SignedReachabilityReport } from './ice-reachability.ts'

const P = (n: number): string => `12D3KooWPeer${String(n).padStart(40, 'x')}`

describe('LinkLog', () => {
  it('reports each change once and stays bounded', () => {
    const log = new LinkLog(3)
    log.record(P(1), 'direct')
    log.record(P(1), 'direct')
    log.record(P(2), 'unreachable')
    expect(log.takeChanges()).toEqual([{ peer: P(1), kind: 'direct' }, { peer: P(2), kind: 'unreachable' }])
    expect(log.takeChanges()).toEqual([])
    log.record(P(2), 'turn')
    expect(log.takeChanges()).toEqual([{ peer: P(2), kind: 'turn' }])
    for (let i = 3; i < 10; i++) log.record(P(i), 'direct')
    expect(log.kind(P(1))).toBeUndefined()
    expect(log.kind(P(9))).toBe('direct')
  })
})

describe('startReachabilityReports', () => {
  it('sends changes signed with the tab key, and sends them again after a failure', async () => {
    const key = await generateKeyPair('Ed25519')
    const peerId = peerIdFromPrivateKey(key).toString()
    const bodies: SignedReachabilityReport[] = []
    let fail = true
    const fetchImpl = (async (_url: string, init: RequestInit) => {
      bodies.push(JSON.parse(init.body as string))
      return new Response('{}', { status: fail ? 503 : 200 })
    }) as unknown as typeof fetch
    const log = new LinkLog()
    const reporter = startReachabilityReports({ log, peerId, privateKey: key, fetch: fetchImpl, intervalMs: 60_000 })
    log.record(P(1), 'unreachable')
    await reporter.flush()
    fail = false
    await reporter.flush()
    await reporter.flush()
    reporter.stop()
    expect(bodies).toHaveLength(2)
    expect(bodies[1].links).toEqual([{ peer: P(1), kind: 'unreachable' }])
    expect(await verifyReachabilitySignature(bodies[1])).toBe(true)
    expect(await verifyReachabilitySignature({ ...bodies[1], links: [{ peer: P(1), kind: 'direct' }] })).toBe(false)
  })
})
