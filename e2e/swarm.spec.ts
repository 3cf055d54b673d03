// The swarm with real tabs: a real tracker, real Chromium contexts that open the campaign link and
// press "Start contributing", real WebRTC between them, SwiftShader WebGPU in each worker.
import { expect, test } from '@playwright/test'
import { runSwarm } from '../src/cli/swarm-runner.ts'

test.describe.configure({ mode: 'serial' })

test('2 stages × 1 replica with the q8 codec: loss falls, every scheduled microbatch completes, a quarter of the bytes', async () => {
  test.setTimeout(400_000)
  // q8 here (the kill test below and the other specs run fp32): tensors cross as int8 with per-token scales.
  const { report } = await runSwarm({ tabs: 2, stages: 2, steps: 6, manifest: m => { m.training.accumulation = 2; m.codec = { name: 'q8' } } })
  expect(report.steps).toHaveLength(6)
  const first = report.steps[0].loss
  const last = report.steps.at(-1)!.loss
  expect(first).toBeGreaterThan(5) // ≈ ln 256 at init
  expect(last).toBeLessThan(first - 0.3)
  expect(report.microbatches).toMatchObject({ scheduled: 12, completed: 12, lost: 0 })
  expect(report.tabs.map(t => t.stage).sort()).toEqual([0, 1])
  for (const t of report.tabs) {
    expect(t.microbatches).toBe(12)
    expect(t.flops).toBeGreaterThan(0)
    // 12 tensors of (4, 64, 64): q8 payloads of 4·64·(64 + 4) bytes each; fp32 would need 4·4·64·64.
    expect(t.bytes_sent).toBeGreaterThanOrEqual(12 * 4 * 64 * 68)
    expect(t.bytes_sent).toBeLessThan(12 * 4 * 4 * 64 * 64 / 2)
  }
})

test('a replica killed mid-run: training continues, its microbatches are retried elsewhere, none lost', async () => {
  test.setTimeout(500_000)
  // Tabs 0 → stage 0, 1 → stage 1, 2 → stage 1 (least throughput per work); kill a stage-1 replica.
  const { report } = await runSwarm({ tabs: 3, stages: 2, steps: 6, kill: { tab: 2, step: 2 }, manifest: m => { m.training.accumulation = 4 } })
  expect(report.tabs.map(t => t.stage)).toEqual([0, 1, 1])
  expect(report.tabs[2].killed).toBe(true)
  expect(report.steps).toHaveLength(6)
  expect(report.microbatches.completed).toBe(24)
  expect(report.microbatches.lost).toBe(0)
  // The survivor carried on after the kill: it did more microbatches than the killed one.
  expect(report.tabs[1].microbatches).toBeGreaterThan(report.tabs[2].microbatches)
  expect(report.steps.at(-1)!.loss).toBeLessThan(report.steps[0].loss)
})
