import { describe, expect, it } from 'vitest'
import { VirtualClock } from './virtual-clock.ts'

describe('VirtualClock', () => {
  it('fires timers in time order, ties in the order set, and lets async chains finish between instants', async () => {
    const c = new VirtualClock()
    const log: string[] = []
    c.after(20, () => { log.push('b@20') })
    c.after(10, () => { log.push('a@10'); void (async () => { await c.sleep(5); log.push(`a+5@${c.now()}`) })() })
    c.after(20, () => { log.push('c@20') })
    const gone = c.after(15, () => { log.push('cancelled') })
    c.cancel(gone)
    await c.run(100)
    expect(log).toEqual(['a@10', 'a+5@15', 'b@20', 'c@20'])
    expect(c.now()).toBe(100)
    expect(c.events).toBe(4)
  })

  it('stops at the horizon and resumes from there', async () => {
    const c = new VirtualClock()
    let fired = 0
    c.after(50, () => { fired++ })
    await c.run(10)
    expect(fired).toBe(0)
    await c.run(60)
    expect(fired).toBe(1)
  })
})
