import { defineConfig } from '@playwright/test'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './src/chromium.ts'

// The e2e tests start real trackers and real Chromium tabs; SwiftShader WebGPU is CPU-bound on
// 2 cores, so tests run one at a time.
export default defineConfig({
  testDir: './e2e',
  outputDir: './test-results',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  use: {
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
    trace: 'off'
  },
  projects: [{ name: 'e2e', use: { browserName: 'chromium' } }]
})
