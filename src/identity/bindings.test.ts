import { describe, expect, it } from 'vitest'
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wallet } from 'ethers'
import { createBindings } from './bindings.ts'
import { openBindingsFile } from './bindings-file.ts'

const A = Wallet.createRandom().address
const B = Wallet.createRandom().address

async function name (f: () => unknown): Promise<string> {
  try { f() } catch (err) { return (err as Error).name }
  return 'returned'
}

describe('bindings', () => {
  it('binds PeerIds to a checksummed address, first binding wins', async () => {
    const b = createBindings({ maxPeersPerAddress: 2 })
    expect(b.bind(A.toLowerCase(), 'peer1')).toBe(true)
    expect(b.bind(A, 'peer1')).toBe(false)
    expect(b.bind(A, 'peer2')).toBe(true)
    expect(b.peerIdsOf(A.toLowerCase())).toEqual(['peer1', 'peer2'])
    expect(b.addressOf('peer1')).toBe(A)
    expect(await name(() => b.bind(B, 'peer1'))).toBe('PeerAlreadyBoundError')
    expect(await name(() => b.bind(A, 'peer3'))).toBe('TooManyPeersError')
    expect(await name(() => b.bind('0x1234', 'peer4'))).toBe('InvalidAddressError')
    expect(b.peerIdsOf(B)).toEqual([])
  })

  it('binds a browser\'s tabs together, all or none; a sibling bound elsewhere stays there', async () => {
    const b = createBindings({ maxPeersPerAddress: 3 })
    b.bind(B, 'old')
    expect(b.bindAll(A, ['t0', 'old', 't1'])).toEqual(['t0', 't1'])
    expect(b.addressOf('old')).toBe(B)
    expect(b.bindAll(A, ['t1', 't0'])).toEqual(['t1', 't0']) // again: nothing new
    // The signing tab itself bound elsewhere: refused, nothing bound.
    expect(await name(() => b.bindAll(A, ['old', 't2']))).toBe('PeerAlreadyBoundError')
    // Over the cap: refused as a whole, not bound up to it.
    expect(await name(() => b.bindAll(A, ['t2', 't3']))).toBe('TooManyPeersError')
    expect(b.peerIdsOf(A)).toEqual(['t0', 't1'])
    expect(b.addressOf('t2')).toBeUndefined()
  })

  it('persists to a JSON-lines file and reloads, dropping a torn last line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tabgrad-bindings-'))
    try {
      const f = openBindingsFile({ dataDir: dir })
      f.bind(A, 'peer1')
      f.bind(B, 'peer2')
      f.close()
      appendFileSync(f.path, '{"address":"0xabc","pee')
      const g = openBindingsFile({ dataDir: dir })
      expect(g.peerIdsOf(A)).toEqual(['peer1'])
      expect(g.addressOf('peer2')).toBe(B)
      g.bind(A, 'peer3')
      g.close()
      expect(readFileSync(g.path, 'utf8').trim().split('\n').map(l => JSON.parse(l).peerId)).toEqual(['peer1', 'peer2', 'peer3'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
