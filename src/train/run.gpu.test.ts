import { beforeAll, describe, expect, test } from 'vitest'
import { requestTabgradDevice } from '../gpu/device.ts'
import { runTraining } from './run.ts'
import { TokenLoader } from './data.ts'
import { fullRange, type GPTConfig } from '../model/config.ts'
import { stageLayout, viewOf } from '../model/params.ts'
import { initStageParams } from '../model/init.ts'
import { exportStage, importStage } from '../model/checkpoint.ts'
import { stageBackward, stageForward } from '../model/cpu/gpt.ts'
import { compareClose, describeClose } from '../gpu/numerics.ts'

let device: GPUDevice
beforeAll(async () => { device = (await requestTabgradDevice()).device })

describe('runTraining', () => {
  test('--init, --no-shuffle, --grads, --out: first-step gradients match the reference, S=1 and S=2 agree', async () => {
    const config: GPTConfig = { vocab: 29, d_model: 32, n_layer: 2, n_head: 2, n_ctx: 8 }
    const B = 2; const T = 8
    const tokens = Uint32Array.from({ length: 300 }, (_, i) => (i * 7 + (i >> 3)) % 29)
    const full = stageLayout(config, fullRange(config))
    const initParams = initStageParams(full, 99)
    const initFile = exportStage(full, initParams)
    const runs = []
    for (const stages of [1, 2]) {
      runs.push(await runTraining(device, { config, tokens, steps: 3, B, T, lr: 1e-3, stages, shuffle: false, init: initFile, wantGrads: true }))
    }
    const [one, two] = runs
    expect(one.steps.map(s => s.step)).toEqual([0, 1, 2])
    for (let i = 0; i < 3; i++) expect(Math.abs(one.steps[i].loss - two.steps[i].loss)).toBeLessThan(1e-5)
    // The first step's gradient, on the float64 reference, from the no-shuffle batch 0.
    const mb = new TokenLoader(tokens, { B, T }).microbatch(0)
    const p64 = Float64Array.from(initParams)
    const fwd = stageForward(full, p64, mb.inputs, B, T, mb.targets)
    expect(Math.abs(one.steps[0].loss - fwd.loss!)).toBeLessThan(1e-5)
    const ref = stageBackward(full, p64, fwd).grads
    for (const run of runs) {
      const g = importStage(run.grads!, { config }).params
      for (const v of full.views) {
        let max = 0
        for (const x of viewOf(ref, v)) max = Math.max(max, Math.abs(x))
        const r = compareClose(viewOf(g, v), viewOf(ref, v), { rtol: 1e-4, atol: 1e-4 * max + 1e-30 })
        expect(r.ok, describeClose(v.name, r)).toBe(true)
      }
    }
    // --out: a full-model file whose weights moved away from the init.
    const out = importStage(one.checkpoint, { config })
    expect(out.layout.range).toEqual(fullRange(config))
    expect(out.params).not.toEqual(initParams)
    expect(one.tokensPerSecond).toBeGreaterThan(0)
  })
})
