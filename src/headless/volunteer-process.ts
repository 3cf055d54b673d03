// Starts a headless volunteer (`npm run volunteer`'s entry) as a child process, as a researcher's
// server would run it, and collects what it prints: for `npm run swarm -- --headless N` and the
// headless e2e tests.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export interface VolunteerProcess {
  child: ChildProcess
  output: () => string
  /** Resolves with the first match of `re` in the output (or rejects when it exits or times out). */
  waitFor: (re: RegExp, timeoutMs?: number) => Promise<RegExpExecArray>
  exited: Promise<number | null>
  kill: (signal?: NodeJS.Signals) => Promise<number | null>
}

/** The repository root: the entry's relative paths (and tsx) resolve from there. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url))

export const VOLUNTEER_ENTRY = ['--import', 'tsx', '--import', './src/node/register.ts', 'src/headless/main.ts', 'volunteer']

export function startVolunteerProcess (args: string[], opts: { onLine?: (line: string) => void } = {}): VolunteerProcess {
  const child = spawn(process.execPath, [...VOLUNTEER_ENTRY, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } })
  let out = ''
  let partial = ''
  const take = (b: Buffer): void => {
    const text = b.toString()
    out += text
    if (opts.onLine == null) return
    const lines = (partial + text).split('\n')
    partial = lines.pop() ?? ''
    for (const l of lines) opts.onLine(l)
  }
  child.stdout!.on('data', take)
  child.stderr!.on('data', take)
  const exited = new Promise<number | null>(resolve => child.once('exit', (code, signal) => { if (signal != null) out += `\n[killed by ${signal}]\n`; resolve(code) }))
  const waitFor = async (re: RegExp, timeoutMs = 120_000): Promise<RegExpExecArray> => await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { clearInterval(poll); reject(new Error(`volunteer never printed ${String(re)} in ${timeoutMs} ms:\n${out}`)) }, timeoutMs)
    const poll = setInterval(() => {
      const m = re.exec(out)
      if (m != null) { clearTimeout(timer); clearInterval(poll); resolve(m) }
      if (child.exitCode != null && m == null) { clearTimeout(timer); clearInterval(poll); reject(new Error(`volunteer exited with ${child.exitCode} before printing ${String(re)}:\n${out}`)) }
    }, 100)
  })
  return {
    child,
    output: () => out,
    waitFor,
    exited,
    kill: async (signal = 'SIGTERM') => {
      if (child.exitCode == null && child.signalCode == null) child.kill(signal)
      return await exited
    }
  }
}
