import { describe, expect, it } from 'vitest'
import { backwardMicrobatch, forwardMicrobatch, type StageOps, type StageTransport } from './microbatch.ts'

function ops (isFirst: boolean, isLast: boolean, log: string[]): StageOps {
  return {
    isFirst,
    isLast,
    forward: async (mb, input) => { log.push(`F${mb}`); return { output: isLast ? null : Float32Array.from(input, v => v * 2), loss: isLast ? 1.5 : null } },
    backward: async (mb, d) => { log.push(`B${mb}`); return isFirst ? null : (d ?? new Float32Array([7])) }
  }
}

function io (log: string[]): StageTransport {
  return {
    sendActivations: async (mb, x) => { log.push(`A${mb}:${Array.from(x).join(',')}`) },
    sendGradients: async (mb, dx) => { log.push(`G${mb}:${Array.from(dx).join(',')}`) }
  }
}

describe('the microbatch recipe', () => {
  it('a middle stage: forward → activations on; d(output) → backward → d(input) back', async () => {
    const log: string[] = []
    expect(await forwardMicrobatch(ops(false, false, log), io(log), 3, new Float32Array([1, 2]))).toEqual({ loss: null, finished: false })
    await backwardMicrobatch(ops(false, false, log), io(log), 3, new Float32Array([5]))
    expect(log).toEqual(['F3', 'A3:2,4', 'B3', 'G3:5'])
  })

  it('the last stage: forward → loss → backward → d(input) back, in one go', async () => {
    const log: string[] = []
    expect(await forwardMicrobatch(ops(false, true, log), io(log), 4, new Float32Array([1]))).toEqual({ loss: 1.5, finished: true })
    expect(log).toEqual(['F4', 'B4', 'G4:7'])
  })

  it('stage 0 sends no gradients back; a one-stage model never leaves the tab', async () => {
    const log: string[] = []
    await backwardMicrobatch(ops(true, false, log), io(log), 1, new Float32Array([5]))
    expect(await forwardMicrobatch(ops(true, true, log), io(log), 2, new Uint32Array([1]))).toEqual({ loss: 1.5, finished: true })
    expect(log).toEqual(['B1', 'F2', 'B2'])
  })
})
