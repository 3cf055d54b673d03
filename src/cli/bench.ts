// `npm run bench -- kernels [--iterations N] [--ops matmul_nn,…] [--max-dim D] [--no-tune]
//   [--no-ort] [--gpu] [--out FILE]`, or `npm run bench -- <name> …` for src/cli/bench-<name>.ts.
// Serves the app with Vite, opens src/bench/bench.html in headless Chromium and writes the page's
// results to bench/results/<name>.json. --gpu drops the SwiftShader flag so Chromium picks the
// machine's GPU.
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { chromium } from 'playwright'
import { createServer } from 'vite'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium.ts'
import type { KernelBenchInit } from '../bench/run-kernels.ts'
import type { Benches } from '../bench/bench-page.ts'

const USAGE = 'usage: npm run bench -- kernels [--iterations N] [--ops a,b] [--max-dim D] [--no-tune] [--no-ort] [--gpu] [--out FILE] | npm run bench -- <train|swarm|tracker|codec> [flags]'

async function main (): Promise<void> {
  // Other benchmarks live in src/cli/bench-<name>.ts and export bench<Name>Main(argv) → exit code.
  const [first, ...rest] = process.argv.slice(2)
  if (first != null && first !== 'kernels' && /^[a-z]+$/.test(first)) {
    const file = new URL(`./bench-${first}.ts`, import.meta.url)
    if (!existsSync(file)) throw new Error(`unknown benchmark ${first}. ${USAGE}`)
    // Those run kernels in Node and import shaders with `?raw`: install the loader hook first
    // (package.json's script starts tsx without `--import ./src/node/register.ts`).
    await import('../node/register.ts')
    const mod = await import(file.href) as Record<string, unknown>
    const run = mod[`bench${first[0].toUpperCase()}${first.slice(1)}Main`]
    if (typeof run !== 'function') throw new Error(`unknown benchmark ${first}. ${USAGE}`)
    process.exitCode = await (run as (argv: string[]) => Promise<number>)(rest)
    return
  }
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      iterations: { type: 'string' },
      ops: { type: 'string' },
      'max-dim': { type: 'string' },
      'no-tune': { type: 'boolean' },
      'no-ort': { type: 'boolean' },
      gpu: { type: 'boolean' },
      out: { type: 'string' },
      help: { type: 'boolean' }
    }
  })
  const name = positionals[0]
  if (values.help === true || name == null) { console.log(USAGE); return }
  if (name !== 'kernels') throw new Error(`unknown benchmark ${name} (this CLI runs: kernels). ${USAGE}`)

  const init: KernelBenchInit = {
    iterations: values.iterations != null ? Number(values.iterations) : undefined,
    ops: values.ops?.split(','),
    maxDim: values['max-dim'] != null ? Number(values['max-dim']) : undefined,
    tune: values['no-tune'] !== true,
    ort: values['no-ort'] !== true
  }
  const out = resolve(values.out ?? `bench/results/${name}.json`)

  // No HMR and no watching: an edited file (or a newly optimized dependency) would reload the
  // page in the middle of a run.
  const server = await createServer({
    configFile: resolve('vite.config.ts'),
    logLevel: 'warn',
    server: { host: '127.0.0.1', port: 0, strictPort: false, hmr: false, watch: { ignored: ['**/*'] } }
  })
  await server.listen()
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Chrome on Linux reaches a real GPU through Vulkan only when asked to (not tried here: no GPU).
    args: values.gpu === true ? [...CHROMIUM_ARGS.filter(a => !a.startsWith('--use-webgpu-adapter')), '--enable-features=Vulkan'] : CHROMIUM_ARGS
  })
  try {
    const page = await browser.newPage()
    page.on('console', m => { if (m.text().startsWith('tabgrad:')) console.log(m.text()) })
    page.on('pageerror', e => console.error('page error:', e.message))
    const base = server.resolvedUrls?.local[0] ?? 'http://127.0.0.1:5173/'
    await page.goto(new URL('src/bench/bench.html', base).href)
    await page.waitForFunction(() => window.tabgradBench != null, undefined, { timeout: 120_000 })
    const result = await page.evaluate(async (i) => await (window.tabgradBench as Benches).kernels(i), init)
    await mkdir(dirname(out), { recursive: true })
    await writeFile(out, JSON.stringify(result, null, 2) + '\n')
    console.log(`wrote ${out}`)
    for (const r of result.ops) {
      const shape = Object.entries(r.shape).map(([k, v]) => `${k}=${v}`).join(' ')
      console.log(`${r.op.padEnd(14)} ${shape.padEnd(20)} ours ${r.ours_gflops.toFixed(2).padStart(8)} GFLOP/s  ort ${(r.ort_gflops?.toFixed(2) ?? '-').padStart(8)}  ratio ${r.ratio?.toFixed(2) ?? '-'}`)
    }
  } finally {
    await browser.close()
    await server.close()
  }
}

main().catch(err => { console.error(err); process.exitCode = 1 })
