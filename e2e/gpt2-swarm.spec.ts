// A real-model campaign as a researcher runs one: GPT-2 tokens from the built-in corpus (tokenized
// by the tracker first), the full 50257-id vocabulary, two real tabs on two stages, and the
// held-out split scored through the swarm as it trains.
import { expect, test } from '@playwright/test'
import { runSwarm } from '../src/cli/swarm-runner.ts'

test('a GPT-2-tokenized campaign on the built-in corpus trains across two real tabs: training and validation loss fall', async () => {
  test.setTimeout(500_000)
  // 32-token microbatches: the 50257-way head is most of the work, and SwiftShader runs it on the CPU.
  const { report } = await runSwarm({ tabs: 2, stages: 2, steps: 6, corpus: 'builtin-gpt2', manifest: m => { m.training.accumulation = 2; m.training.microbatch = 1; m.training.seq_len = 32; m.training.lr = 1e-2 } })
  expect(report.config.model.vocab).toBe(50257)
  expect(report.microbatches).toMatchObject({ scheduled: 12, completed: 12, lost: 0 })
  expect(report.tabs.map(t => t.stage).sort()).toEqual([0, 1])
  expect(report.steps).toHaveLength(6)
  const first = report.steps[0].loss
  expect(first).toBeGreaterThan(10) // ≈ ln 50257 at init
  expect(report.steps.at(-1)!.loss).toBeLessThan(first - 1)
  // Validation after steps 1…6 (the last pass may be cut off by the end): held-out tokens, never trained on.
  const val = report.validation
  expect(val.length).toBeGreaterThanOrEqual(3)
  expect(val[0].loss).toBeGreaterThan(9)
  expect(val.at(-1)!.loss).toBeLessThan(val[0].loss - 0.5)
})
