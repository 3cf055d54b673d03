import { expect, test } from 'vitest'

test('a WebGPU adapter is available in the browser test runner', async () => {
  const adapter = await navigator.gpu.requestAdapter()
  expect(adapter).not.toBeNull()
  const device = await adapter!.requestDevice()
  expect(device.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256)
})
