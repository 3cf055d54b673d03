import { describe, expect, it } from 'vitest'
import { stageBackward, stageForward } from './gpt.ts'
import { fullRange, splitStages, type GPTConfig } from '../config.ts'
import { stageLayout, viewOf, type StageLayout } from '../params.ts'
import { createRng, fillNormal } from '../rng.ts'
import { maxRelDiff, numericGrad } from './check.ts'

// Odd sizes catch index mix-ups that square ones hide; L=3 allows a 3-stage split.
const config: GPTConfig = { vocab: 11, d_model: 12, n_layer: 3, n_head: 3, n_ctx: 7 }
const B = 2; const T = 5
const tokens = Uint32Array.of(1, 3, 10, 0, 3, 7, 7, 2, 9, 4)
const targets = Uint32Array.of(3, 10, 0, 3, 5, 7, 2, 9, 4, 1)

/** Random params big enough that every gradient is far from zero (init's 0.02 would hide errors). */
function randomParams (layout: StageLayout, seed: number): Float64Array {
  const flat = new Float64Array(layout.totalElements)
  const rng = createRng(seed)
  for (const v of layout.views) {
    const t = viewOf(flat, v)
    fillNormal(t, rng, 0.3)
    if (v.init === 'ones') for (let i = 0; i < t.length; i++) t[i] += 1
  }
  return flat
}

/** Copies the tensors of `to` out of a params buffer of layout `from`, by checkpoint name. */
function extract (from: StageLayout, flat: Float64Array, to: StageLayout): Float64Array {
  const out = new Float64Array(to.totalElements)
  for (const v of to.views) viewOf(out, v).set(viewOf(flat, from.byName.get(v.name)!))
  return out
}

describe('GPT stage reference', () => {
  const full = stageLayout(config, fullRange(config))
  const params = randomParams(full, 1)

  it('full model: loss is near log V for small weights and every gradient matches finite differences', () => {
    const f = (): number => stageForward(full, params, tokens, B, T, targets).loss!
    const fwd = stageForward(full, params, tokens, B, T, targets)
    expect(fwd.loss).toBeGreaterThan(0)
    const { grads, dinput } = stageBackward(full, params, fwd)
    expect(dinput).toBeNull()
    // Probe a few elements of every tensor (all of them would take seconds).
    for (const v of full.views) {
      const idx = [0, Math.floor(v.size / 3), Math.floor(v.size / 2), v.size - 1].map(i => v.offset + i)
      const num = numericGrad(f, params, 1e-5, idx)
      const got = idx.map(i => grads[i]); const want = idx.map(i => num[i])
      expect(maxRelDiff(got, want), v.name).toBeLessThan(1e-7)
    }
  })

  it('middle stage: d input matches finite differences', () => {
    const mid = stageLayout(config, { first: 1, last: 2 })
    const p = randomParams(mid, 2)
    const x = new Float64Array(B * T * config.d_model); fillNormal(x, createRng(3))
    const dout = new Float64Array(x.length); fillNormal(dout, createRng(4))
    const f = (): number => { const o = stageForward(mid, p, x, B, T).out!; let s = 0; for (let i = 0; i < o.length; i++) s += o[i] * dout[i]; return s }
    const { dinput, grads } = stageBackward(mid, p, stageForward(mid, p, x, B, T), dout)
    expect(maxRelDiff(dinput!, numericGrad(f, x))).toBeLessThan(1e-7)
    const idx = mid.views.map(v => v.offset + (v.size >> 1))
    const num = numericGrad(f, p, 1e-5, idx)
    expect(maxRelDiff(idx.map(i => grads[i]), idx.map(i => num[i]))).toBeLessThan(1e-7)
  })

  it('backward accumulates into the grads it is given', () => {
    const fwd = stageForward(full, params, tokens, B, T, targets)
    const once = stageBackward(full, params, fwd).grads
    const twice = stageBackward(full, params, fwd, undefined, Float64Array.from(once)).grads
    expect(maxRelDiff(twice, once.map(x => 2 * x))).toBeLessThan(1e-15)
  })

  for (const S of [1, 2, 3]) {
    it(`an ${S}-stage pipeline gives the unsplit loss and gradients`, () => {
      const ref = stageForward(full, params, tokens, B, T, targets)
      const refGrads = stageBackward(full, params, ref).grads
      const stages = splitStages(config, S).map(r => stageLayout(config, r))
      const ps = stages.map(l => extract(full, params, l))
      const fwds = []
      let x: Uint32Array | Float64Array = tokens
      for (let s = 0; s < S; s++) {
        const r = stageForward(stages[s], ps[s], x, B, T, s === S - 1 ? targets : undefined)
        fwds.push(r)
        if (s < S - 1) x = r.out!
      }
      expect(fwds[S - 1].loss).toBe(ref.loss)
      let dout: Float64Array | undefined
      for (let s = S - 1; s >= 0; s--) {
        const { grads, dinput } = stageBackward(stages[s], ps[s], fwds[s], dout)
        expect(maxRelDiff(grads, extract(full, refGrads, stages[s]))).toBe(0)
        dout = dinput ?? undefined
      }
    })
  }

  it('rejects inputs that do not fit the stage', () => {
    const err = (fn: () => unknown): string => { try { fn(); return 'no error' } catch (e) { return (e as Error).name } }
    expect(err(() => stageForward(full, params, Uint32Array.of(1, 2), B, T))).toBe('ModelInputError')
    expect(err(() => stageForward(full, params, new Uint32Array(B * 8), B, 8))).toBe('ModelInputError') // T > n_ctx
    expect(err(() => stageForward(full, params, new Uint32Array(B * T).fill(11), B, T))).toBe('ModelInputError')
    expect(err(() => stageForward(full, params, new Float64Array(B * T * 12), B, T))).toBe('ModelInputError')
    expect(err(() => stageBackward(full, params, stageForward(full, params, tokens, B, T)))).toBe('ModelInputError')
  })
})
