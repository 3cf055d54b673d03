// Where Chromium lives and how to start it headless with WebGPU, for every tool that
// launches a browser (Playwright e2e, vitest browser mode, swarm runner, benchmarks).
// Flags verified on these machines: see ../shared/ENVIRONMENT.md.
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-features=WebRtcHideLocalIpsWithMdns'
]
