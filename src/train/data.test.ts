import { describe, expect, it } from 'vitest'
import { TokenLoader, decodeTokens, formatOfPath } from './data.ts'

const tokens = Uint32Array.from({ length: 50 }, (_, i) => i)

describe('token data', () => {
  it('decodes .txt bytes and .bin uint16 LE', () => {
    expect(formatOfPath('a/b.txt')).toBe('bytes')
    expect(formatOfPath('c.BIN')).toBe('uint16')
    expect(Array.from(decodeTokens(new TextEncoder().encode('hé'), 'bytes'))).toEqual([104, 195, 169])
    expect(Array.from(decodeTokens(Uint8Array.of(1, 0, 0x34, 0x12), 'uint16'))).toEqual([1, 0x1234])
    expect(() => decodeTokens(Uint8Array.of(1, 2, 3), 'uint16')).toThrow(expect.objectContaining({ name: 'DataError' }))
  })

  it('--no-shuffle: row b of microbatch s reads from (s*B + b)*T, targets shifted by one', () => {
    const loader = new TokenLoader(tokens, { B: 2, T: 4 })
    const mb = loader.microbatch(3)
    expect(Array.from(mb.inputs)).toEqual([24, 25, 26, 27, 28, 29, 30, 31])
    expect(Array.from(mb.targets)).toEqual([25, 26, 27, 28, 29, 30, 31, 32])
    // Past the end the windows wrap modulo n − T, always with T + 1 tokens.
    const late = loader.microbatch(100)
    expect(late.inputs[0]).toBe((800 % 46))
    expect(Math.max(...late.targets)).toBeLessThan(50)
  })

  it('shuffled: each epoch visits every disjoint window once, in a seeded order', () => {
    const loader = new TokenLoader(tokens, { B: 3, T: 7, shuffle: true, seed: 5 })
    expect(loader.windows).toBe(7)
    const starts = (from: number): number[] => Array.from({ length: 7 }, (_, r) => loader.windowStart(from + r))
    expect([...starts(0)].sort((a, b) => a - b)).toEqual([0, 7, 14, 21, 28, 35, 42])
    expect(starts(7)).not.toEqual(starts(0))
    expect(starts(0)).toEqual(starts(0))
    expect(new TokenLoader(tokens, { B: 3, T: 7, shuffle: true, seed: 5 }).microbatch(4)).toEqual(loader.microbatch(4))
    expect(new TokenLoader(tokens, { B: 3, T: 7, shuffle: true, seed: 6 }).microbatch(0)).not.toEqual(loader.microbatch(0))
  })

  it('refuses a dataset shorter than one window and out-of-vocabulary tokens', () => {
    expect(() => new TokenLoader(tokens.subarray(0, 4), { B: 1, T: 4 })).toThrow(expect.objectContaining({ name: 'DataError' }))
    expect(() => new TokenLoader(tokens, { B: 1, T: 4, vocab: 40 })).toThrow(expect.objectContaining({ name: 'DataError' }))
  })
})
