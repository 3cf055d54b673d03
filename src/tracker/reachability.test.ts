import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createReachability, parseReachabilityReport, readReachabilityReport } from './reachability.ts'
import { signReachabilityReport } from '../net/ice-reachability.ts'

const id = (n: number): string => `12D3KooW${String(n).padStart(44, 'A').replace(/0/g, 'a')}`
const A = id(1)
const B = id(2)
const C = id(3)

describe('reachability table', () => {
  it('answers for a pair from either side, and knows nothing of unreported pairs', () => {
    const r = createReachability()
    r.report(A, [{ peer: B, kind: 'direct' }, { peer: C, kind: 'unreachable' }], 1000)
    expect(r.kind(A, B, 1000)).toBe('direct')
    expect(r.kind(B, A, 1000)).toBe('direct')
    expect(r.kind(C, A, 1000)).toBe('unreachable')
    expect(r.kind(B, C, 1000)).toBe('unknown')
    expect(r.unreachablePairs(1000)).toEqual([[A, C]])
    expect(r.linksOf(C, 1000)).toEqual([{ peer: A, kind: 'unreachable' }])
  })

  it('lets a newer report replace an older one, and forgets reports after the TTL', () => {
    const r = createReachability({ ttlMs: 10_000 })
    r.report(A, [{ peer: C, kind: 'unreachable' }], 0)
    r.report(C, [{ peer: A, kind: 'turn' }], 5_000)
    expect(r.kind(A, C, 5_000)).toBe('turn')
    expect(r.kind(A, C, 20_000)).toBe('unknown')
  })

  it('stays bounded however many tabs and links are reported', () => {
    const r = createReachability({ maxTabs: 10, maxLinksPerTab: 5 })
    for (let i = 0; i < 100; i++) r.report(id(100 + i), Array.from({ length: 5 }, (_, j) => ({ peer: id(1000 + j), kind: 'direct' as const })), 0)
    expect(r.size).toBe(10)
    r.report(A, Array.from({ length: 50 }, (_, j) => ({ peer: id(2000 + j), kind: 'direct' as const })), 0)
    expect(r.linksOf(A, 0)).toHaveLength(5)
    expect(r.kind(A, id(2049), 0)).toBe('direct')
    expect(r.kind(A, id(2000), 0)).toBe('unknown')
  })
})

const rejection = async (p: Promise<unknown>): Promise<string> => await p.then(() => 'resolved', (err: Error) => err.name)

describe('reachability reports', () => {
  it('accepts a report the tab signed, and refuses it altered, forged or stale', async () => {
    const key = await generateKeyPair('Ed25519')
    const me = peerIdFromPrivateKey(key).toString()
    const signed = await signReachabilityReport(key, me, [{ peer: B, kind: 'unreachable' }], 1_000_000)
    const wire = JSON.parse(JSON.stringify(signed))
    expect(await readReachabilityReport(wire, 1_000_000)).toEqual(signed)
    expect(await rejection(readReachabilityReport({ ...wire, links: [{ peer: B, kind: 'direct' }] }, 1_000_000))).toBe('HttpError')
    // Someone else's key claiming to speak for `me`.
    const other = await generateKeyPair('Ed25519')
    expect(await rejection(readReachabilityReport(await signReachabilityReport(other, me, [{ peer: B, kind: 'turn' }], 1_000_000), 1_000_000))).toBe('HttpError')
    expect(await rejection(readReachabilityReport(wire, 1_000_000 + 6 * 60_000))).toBe('BadRequestError')
  })

  it('parses a well-formed report', () => {
    const r = { peerId: A, at: 5, links: [{ peer: B, kind: 'turn' }], signature: 'AAAA' }
    expect(parseReachabilityReport(r)).toEqual(r)
  })

  const base = { peerId: A, at: 1, signature: 'AAAA' }
  it.each([
    ['an array body', []],
    ['a bad reporter id', { ...base, peerId: 'x', links: [] }],
    ['no time', { peerId: A, signature: 'AAAA', links: [] }],
    ['a huge signature', { ...base, signature: 'A'.repeat(300), links: [] }],
    ['too many links', { ...base, links: Array(257).fill({ peer: B, kind: 'direct' }) }],
    ['an unknown kind', { ...base, links: [{ peer: B, kind: 'teleport' }] }],
    ['a link to itself', { ...base, links: [{ peer: A, kind: 'direct' }] }],
    ['a non-object link', { ...base, links: [42] }],
    ['a prototype-polluting key', JSON.parse(`{"peerId":"${A}","at":1,"signature":"AAAA","links":[{"__proto__":{"kind":"direct"},"peer":"${B}"}]}`)]
  ])('refuses %s', (_what, body) => {
    expect(() => parseReachabilityReport(body)).toThrow(expect.objectContaining({ name: 'BadRequestError' }))
  })
})
