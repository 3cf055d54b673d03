import { describe, expect, it } from 'vitest'
import { decodeTokens, microbatchWindow } from './dataset.ts'

describe('microbatch windows', () => {
  const tokens = Uint32Array.from({ length: 50 }, (_, i) => i)

  it('reads row b of microbatch m at ((m·B + b)·T) mod (N − T), targets shifted by one', () => {
    const w = microbatchWindow(tokens, 1, 2, 4)
    expect([...w.inputs]).toEqual([8, 9, 10, 11, 12, 13, 14, 15])
    expect([...w.targets]).toEqual([9, 10, 11, 12, 13, 14, 15, 16])
  })

  it('wraps around the corpus without running past its end', () => {
    const w = microbatchWindow(tokens, 100, 3, 7)
    for (let i = 0; i < w.inputs.length; i++) expect(w.targets[i]).toBe(w.inputs[i] + 1)
    expect(Math.max(...w.targets)).toBeLessThan(50)
  })

  it('refuses a corpus no longer than T', () => {
    expect(() => microbatchWindow(tokens.subarray(0, 4), 0, 1, 4)).toThrowError(expect.objectContaining({ name: 'DatasetError' }))
  })
})

describe('decodeTokens', () => {
  it('decodes bytes and uint16 little-endian', () => {
    expect([...decodeTokens(new Uint8Array([65, 0, 255]), 'bytes')]).toEqual([65, 0, 255])
    expect([...decodeTokens(new Uint8Array([1, 2, 255, 255]), 'uint16')]).toEqual([0x0201, 0xffff])
    expect(() => decodeTokens(new Uint8Array(3), 'uint16')).toThrow(/even length/)
  })
})
