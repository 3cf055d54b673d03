import { describe, expect, it } from 'vitest'
import { createNonceStore } from './nonce-store.ts'

describe('nonce store', () => {
  it('issues EIP-4361 nonces that are single use', () => {
    const nonces = createNonceStore()
    const n = nonces.issue()
    expect(n).toMatch(/^[a-zA-Z0-9]{8,}$/)
    expect(nonces.issue()).not.toBe(n)
    expect(nonces.has('never-issued')).toBe(false)
    expect(nonces.consume(n)).toBe(true)
    expect(nonces.consume(n)).toBe(false)
  })

  it('expires nonces', () => {
    const clock = { t: 0 }
    const nonces = createNonceStore({ ttlMs: 1000, now: () => clock.t })
    const n = nonces.issue()
    clock.t = 999
    expect(nonces.has(n)).toBe(true)
    clock.t = 1000
    expect(nonces.consume(n)).toBe(false)
  })

  it('keeps at most maxNonces, dropping the oldest', () => {
    const nonces = createNonceStore({ maxNonces: 3 })
    const issued = Array.from({ length: 5 }, () => nonces.issue())
    expect(nonces.size).toBe(3)
    expect(issued.map(n => nonces.has(n))).toEqual([false, false, true, true, true])
  })
})
