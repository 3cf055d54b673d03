// Starts the real tracker (`src/tracker/main.ts`) as a child process on a free port with a fresh
// data directory, exactly as `npm start` runs it (minus the build, which `npm test` does first).
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TrackerProcess {
  url: string
  demoLink: string
  /** The operator sign-in link the tracker prints (sets a session cookie that may create campaigns). */
  operatorLink: string
  /** The token in that link, for `Authorization: Bearer …` from scripts (as `curl` would send it). */
  adminToken: string
  dataDir: string
  child: ChildProcess
  output: () => string
  stop: (signal?: NodeJS.Signals) => Promise<number | null>
}

export async function startTrackerProcess (opts: { dataDir?: string } = {}): Promise<TrackerProcess> {
  const dataDir = opts.dataDir ?? await mkdtemp(join(tmpdir(), 'tabgrad-e2e-'))
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './src/node/register.ts', 'src/tracker/main.ts', '--port', '0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOST: '127.0.0.1' }
  })
  let out = ''
  child.stdout!.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr!.on('data', (b: Buffer) => { out += b.toString() })
  const [url, demoLink, operatorLink] = await new Promise<[string, string, string]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tracker did not start in 60 s:\n${out}`)), 60_000)
    const poll = setInterval(() => {
      const m = /tabgrad tracker (http:\/\/\S+)\n\s+demo campaign: (\S+)[^]*operator sign-in[^:]*: (\S+)/.exec(out)
      if (m != null) { clearTimeout(timer); clearInterval(poll); resolve([m[1], m[2], m[3]]) }
    }, 50)
    child.once('exit', code => { clearTimeout(timer); clearInterval(poll); reject(new Error(`tracker exited with ${code}:\n${out}`)) })
  })
  return {
    url,
    demoLink,
    operatorLink,
    adminToken: new URL(operatorLink).searchParams.get('token') ?? '',
    dataDir,
    child,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode != null) return child.exitCode
      const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
      child.kill(signal)
      return await exited
    }
  }
}
