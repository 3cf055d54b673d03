import { defineConfig } from 'vitest/config'
import type { Plugin } from 'vite'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import { playwright } from '@vitest/browser-playwright'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './src/chromium.ts'

/**
 * Test builds only: `vite build --mode faults` (npm run build:faults, into dist-faults/) adds the
 * fault-injection script to the page. Production builds never see it (e2e/no-test-code.spec.ts).
 */
function faultsEntry (): Plugin {
  let mode = 'production'
  return {
    name: 'tabgrad-faults-entry',
    configResolved (config) { mode = config.mode },
    transformIndexHtml: {
      order: 'pre',
      handler: html => mode === 'faults' ? html.replace('</body>', '  <script type="module" src="/src/worker/faults-entry.ts"></script>\n  </body>') : html
    }
  }
}

export default defineConfig({
  plugins: [svelte(), faultsEntry()],
  build: { target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 4096 },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          environment: 'node',
          setupFiles: ['./src/node/polyfills.ts'],
          include: ['src/**/*.test.ts'],
          exclude: ['src/**/*.gpu.test.ts'],
          testTimeout: 30_000
        }
      },
      {
        extends: true,
        test: {
          name: 'gpu',
          include: ['src/**/*.gpu.test.ts'],
          testTimeout: 120_000,
          browser: {
            enabled: true,
            headless: true,
            screenshotFailures: false,
            provider: playwright({ launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS } }),
            instances: [{ browser: 'chromium' }]
          }
        }
      }
    ]
  }
})
