import { describe, expect, it } from 'vitest'
import { ValidationBook } from './validation-book.ts'

describe('ValidationBook', () => {
  it('makes a step\'s point from the mean of all its batches, counting each batch once', () => {
    const b = new ValidationBook(2)
    expect(b.record(5, 0, 4)).toBe(true)
    expect(b.record(5, 0, 100)).toBe(false) // a second report of batch 0 does not count
    expect(b.points()).toEqual([])
    expect(b.record(5, 1, 2)).toBe(true)
    expect(b.points()).toEqual([{ step: 5, loss: 3 }])
    expect(b.record(5, 1, 0)).toBe(false) // the point is made
  })

  it('keeps points in step order, and only a few unfinished steps', () => {
    const b = new ValidationBook(1, 2)
    b.record(9, 0, 1)
    b.record(3, 0, 2)
    expect(b.points().map(p => p.step)).toEqual([3, 9])
    const c = new ValidationBook(2, 2)
    for (const step of [1, 2, 3]) c.record(step, 0, 1) // step 1 gives way to step 3
    c.record(1, 1, 1)
    expect(c.points()).toEqual([])
    c.record(3, 1, 5)
    expect(c.points()).toEqual([{ step: 3, loss: 3 }])
  })
})
