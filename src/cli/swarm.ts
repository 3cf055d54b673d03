// `npm run swarm -- --tabs N --stages S --steps K [--headless H] [--json out.json] [--kill TAB@STEP]`:
// a tracker, N headless Chromium volunteers and H headless Node volunteers on this machine. Prints
// progress; writes the report as JSON.
import '../node/register.ts'
import { writeFile } from 'node:fs/promises'
import { parseFlags, intFlag, UsageError } from './args.ts'
import { runSwarm } from './swarm-runner.ts'

const USAGE = `usage: npm run swarm -- --tabs N --stages S --steps K [--headless H] [--json out.json] [--kill TAB@STEP] [--sync-every N] [--accumulation A]
  N tabs (headless Chromium contexts) and H Node volunteers (\`tabgrad volunteer\` processes, Dawn WebGPU)
  train an S-stage GPT on the demo corpus for K optimizer steps. --tabs 0 with --headless runs an all-Node swarm.
  --kill TAB@STEP stops volunteer TAB (0-based: tabs first, then Node volunteers) when the swarm reaches step STEP, to show recovery.`

try {
  const flags = parseFlags(process.argv.slice(2), { values: ['tabs', 'headless', 'stages', 'steps', 'json', 'kill', 'sync-every', 'accumulation'] }, USAGE)
  const headless = intFlag(flags, 'headless', 0, USAGE, 0)
  const tabs = intFlag(flags, 'tabs', headless > 0 ? 0 : undefined, USAGE, headless > 0 ? 0 : 1)
  const stages = intFlag(flags, 'stages', undefined, USAGE)
  const steps = intFlag(flags, 'steps', undefined, USAGE)
  if (tabs + headless < stages) throw new UsageError(`--tabs plus --headless (${tabs + headless}) must be at least --stages (${stages}): every stage needs a volunteer\n${USAGE}`)
  let kill: { tab: number, step: number } | undefined
  const k = flags.get('kill')
  if (typeof k === 'string') {
    const m = /^(\d+)@(\d+)$/.exec(k)
    if (m == null || Number(m[1]) >= tabs + headless) throw new UsageError(`--kill must be TAB@STEP with TAB < ${tabs + headless}, got "${k}"\n${USAGE}`)
    kill = { tab: Number(m[1]), step: Number(m[2]) }
  }
  const syncEvery = intFlag(flags, 'sync-every', 1, USAGE)
  const accumulation = intFlag(flags, 'accumulation', 4, USAGE)
  const { report } = await runSwarm({
    tabs, headless, stages, steps, kill,
    manifest: m => { m.training.sync_every = syncEvery; m.training.accumulation = accumulation },
    log: line => { console.log(line) }
  })
  console.log(`\ndone: ${report.steps.length} steps, final loss ${report.steps.at(-1)?.loss.toFixed(4) ?? '–'}, ${report.tokens_per_second.toFixed(0)} tokens/s`)
  console.log(`microbatches: ${JSON.stringify(report.microbatches)}`)
  for (const t of report.tabs) console.log(`  ${t.agent === 'node' ? 'node' : 'tab'} ${t.tab} stage ${t.stage}${t.killed ? ' (killed)' : ''}: busy ${(100 * t.busy_fraction).toFixed(0)}%, idle-wait ${(100 * t.idle_wait_fraction).toFixed(0)}%, sent ${(t.bytes_sent / 1e6).toFixed(1)} MB, ${t.microbatches} microbatches`)
  const json = flags.get('json')
  if (typeof json === 'string') {
    await writeFile(json, JSON.stringify(report, null, 2))
    console.log(`wrote ${json}`)
  }
  process.exit(0)
} catch (err) {
  console.error(err instanceof UsageError ? err.message : `swarm failed: ${(err as Error).stack ?? String(err)}`)
  process.exit(err instanceof UsageError ? 2 : 1)
}
