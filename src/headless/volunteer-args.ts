// `tabgrad volunteer <link> [--stage N] [--data-dir DIR] [--gpu-budget F] [--wallet-key FILE]`:
// the command line of a headless volunteer, checked before anything touches the network.
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseCampaignLink, type CampaignLink } from './campaign-link.ts'
import { UsageError } from './errors.ts'

export const VOLUNTEER_USAGE = `usage: tabgrad volunteer <campaign link> [options]
  Joins a campaign's swarm from this machine (Node, WebGPU through Dawn, WebRTC to browser tabs).
  --stage N          the pipeline stage to train, 1-based as the campaign page shows it (default: the tracker picks,
                     or the stage this data dir trained before)
  --data-dir DIR     where the volunteer keeps its key and checkpoints (default ~/.tabgrad/volunteer)
  --gpu-budget F     share of time the GPU may work, 0 < F ≤ 1 (default 1)
  --wallet-key FILE  sign in with Ethereum (SIWE) using the hex private key in FILE, so work is credited
                     to that address; without it, work is credited to the volunteer's PeerId
  --help             this text`

export interface VolunteerArgs {
  link: CampaignLink
  /** 0-based stage asked for, or null to let the tracker (or the checkpoint) decide. */
  stage: number | null
  dataDir: string
  gpuBudget: number
  walletKeyFile: string | null
}

export type ParsedArgs = { help: true } | ({ help: false } & VolunteerArgs)

const VALUES = new Set(['stage', 'data-dir', 'gpu-budget', 'wallet-key'])

/** The default data dir: per user, so a restart finds the same key and checkpoint. */
export function defaultDataDir (env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HOME ?? homedir(), '.tabgrad', 'volunteer')
}

/** Parses `argv` (after `volunteer`); throws UsageError or BadLinkError with one line each. */
export function parseVolunteerArgs (argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
  const flags = new Map<string, string>()
  const positional: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--help' || a === '-h') return { help: true }
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(a)
    if (m == null) { positional.push(a); continue }
    const [, name, inline] = m
    if (!VALUES.has(name)) throw new UsageError(`unknown option --${name} (see tabgrad volunteer --help)`)
    const v = inline ?? argv[++i]
    if (v == null || v === '') throw new UsageError(`--${name} needs a value (see tabgrad volunteer --help)`)
    flags.set(name, v)
  }
  if (positional.length === 0) throw new UsageError('missing the campaign link (see tabgrad volunteer --help)')
  if (positional.length > 1) throw new UsageError(`one campaign link expected, got ${positional.length} arguments: ${positional.join(' ').slice(0, 80)}`)
  const link = parseCampaignLink(positional[0])

  let stage: number | null = null
  const s = flags.get('stage')
  if (s != null) {
    const n = Number(s)
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`--stage must be a stage number from 1, got "${s}"`)
    stage = n - 1
  }
  let gpuBudget = 1
  const g = flags.get('gpu-budget')
  if (g != null) {
    const n = Number(g)
    if (!/^\d*\.?\d+$/.test(g) || !(n > 0 && n <= 1)) throw new UsageError(`--gpu-budget must be a fraction with 0 < F ≤ 1, got "${g}"`)
    gpuBudget = n
  }
  const w = flags.get('wallet-key')
  return {
    help: false,
    link,
    stage,
    dataDir: resolve(flags.get('data-dir') ?? defaultDataDir(env)),
    gpuBudget,
    walletKeyFile: w != null ? resolve(w) : null
  }
}
