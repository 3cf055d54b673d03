import { describe, expect, it } from 'vitest'
import { createRng, hashString, randn } from './rng.ts'

describe('deterministic randomness', () => {
  it('hashes with FNV-1a', () => {
    expect(hashString('')).toBe(0x811c9dc5)
    expect(hashString('a')).toBe(0xe40c292c) // published FNV-1a 32 test vector
  })

  it('sfc32 is reproducible, in [0, 1), and roughly uniform', () => {
    const a = createRng(1, 2); const b = createRng(1, 2)
    const xs = Array.from({ length: 10000 }, () => a())
    expect(Array.from({ length: 10000 }, () => b())).toEqual(xs)
    expect(xs.every(x => x >= 0 && x < 1)).toBe(true)
    expect(Math.abs(xs.reduce((s, x) => s + x, 0) / xs.length - 0.5)).toBeLessThan(0.01)
    expect(createRng(1, 3)()).not.toBe(createRng(1, 2)())
  })

  it('Box-Muller gives mean 0, std 1', () => {
    const x = randn(20001, 7)
    const m = x.reduce((s, v) => s + v, 0) / x.length
    const sd = Math.sqrt(x.reduce((s, v) => s + (v - m) ** 2, 0) / x.length)
    expect(Math.abs(m)).toBeLessThan(0.02)
    expect(Math.abs(sd - 1)).toBeLessThan(0.02)
  })
})
