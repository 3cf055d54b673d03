import { describe, expect, it } from 'vitest'
import { BoundaryEncoder } from './boundary.ts'
import { q8Decode } from './q8.ts'
import { roundingSeed } from './rounding.ts'

const shape = [2, 3, 8]
const x = Float32Array.from({ length: 48 }, (_, i) => Math.cos(i) * (i % 3))

describe('boundary encoder', () => {
  it('fp32 sends the raw bytes with no codec in the header (as before codecs)', () => {
    const e = new BoundaryEncoder({ campaignSeed: 1, stage: 0, shape })
    const w = e.encode('activations', 4, x)
    expect(w.codec).toBeNull()
    expect(new Float32Array(w.payload.buffer, w.payload.byteOffset, 48)).toEqual(x)
    expect(e.payloadBytes).toBe(192)
  })

  it('q8: nearest for activations, seeded stochastic for gradients; one encoding per tensor', () => {
    const e = new BoundaryEncoder({ codec: 'q8', campaignSeed: 99, stage: 2, shape })
    const a = e.encode('activations', 7, x)
    expect(a.codec).toEqual({ name: 'q8', rounding: 'nearest' })
    expect(e.encode('activations', 7, x)).toBe(a) // a resend: the same bytes, the same digest
    const g = e.encode('gradients', 7, Float32Array.from(x))
    expect(g.codec).toEqual({ name: 'q8', rounding: 'stochastic', seed: roundingSeed(99, 7, 2, 'gradients') })
    expect(a.payload.byteLength).toBe(6 * (4 + 8))
    // Another tab encoding the same gradients for the same microbatch gets the same bytes.
    const again = new BoundaryEncoder({ codec: 'q8', campaignSeed: 99, stage: 2, shape }).encode('gradients', 7, Float32Array.from(x))
    expect(again.payload).toEqual(g.payload)
    expect(q8Decode(g.payload, shape)).toHaveLength(48)
    // The same array sent again as another microbatch's gradients is encoded afresh (another seed).
    const y = Float32Array.from(x)
    const first = e.encode('gradients', 1, y)
    expect(e.encode('gradients', 2, y)).not.toBe(first)
    expect(e.encode('gradients', 2, y).codec).toEqual({ name: 'q8', rounding: 'stochastic', seed: roundingSeed(99, 2, 2, 'gradients') })
  })
})
