import { describe, expect, it } from 'vitest'
import { microbatchWindow } from './dataset.ts'

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
