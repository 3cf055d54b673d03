import { describe, expect, it } from 'vitest'
import { Wallet } from 'ethers'
import { computeOwnership } from './ownership.ts'
import type { LedgerEntry } from './hash-chain.ts'

const entry = (microbatch: number, credits: Array<[string, number]>): LedgerEntry =>
  ({ campaign: 'demo', microbatch, credits: credits.map(([peerId, flops]) => ({ peerId, flops })), receipts: [], time: 0 })

describe('ownership', () => {
  const alice = Wallet.createRandom().address
  const entries = [
    entry(0, [['tabA1', 100], ['tabB', 50], ['tabA2', 25]]),
    entry(1, [['tabA1', 100], ['tabC', 30], ['tabB', 50]]),
    entry(2, [['tabC', 1e6]])
  ]
  const addressOf = (p: string): string | undefined => (p === 'tabA1' || p === 'tabA2') ? alice : undefined

  it('credits bound PeerIds to their address, others under their PeerId; shares sum to 1', () => {
    const o = computeOwnership(entries.slice(0, 2), { addressOf })
    expect(o.total_flops).toBe(355)
    expect(o.holders.map(h => [h.address, h.flops])).toEqual([[alice, 225], ['tabB', 100], ['tabC', 30]])
    expect(o.holders.reduce((s, h) => s + h.share, 0)).toBeCloseTo(1, 12)
  })

  it('leaves withheld work out', () => {
    const o = computeOwnership(entries, { addressOf, isWithheld: (peerId, e) => peerId === 'tabC' && e.microbatch === 2 })
    expect(o.total_flops).toBe(355)
    expect(o.holders.reduce((s, h) => s + h.share, 0)).toBeCloseTo(1, 12)
    expect(computeOwnership([]).holders).toEqual([])
  })
})
