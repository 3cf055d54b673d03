// `tabgrad volunteer <link> [--stage N] [--data-dir DIR] [--gpu-budget F] [--listen ADDR]
//  [--wallet-key FILE | --address 0x…]`:
// the command line of a headless volunteer, checked before anything touches the network.
import { homedir } from 'node:os'
import { multiaddr } from '@multiformats/multiaddr'
import { join, resolve } from 'node:path'
import { parseCampaignLink, type CampaignLink } from './campaign-link.ts'
import { ConflictingOptionsError, UsageError } from './errors.ts'

export const VOLUNTEER_USAGE = `usage: tabgrad volunteer <campaign link> [options]
  Joins a campaign's swarm from this machine (Node, WebGPU through Dawn, WebRTC to browser tabs).
  --stage N          the pipeline stage to train, 1-based as the campaign page shows it (default: the tracker picks,
                     or the stage this data dir trained before)
  --data-dir DIR     where the volunteer keeps its key and checkpoints (default ~/.tabgrad/volunteer)
  --gpu-budget F     share of time the GPU may work, 0 < F ≤ 1 (default 1)
  --wallet-key FILE  sign in with Ethereum (SIWE) using the hex private key in FILE, so work is credited
                     to that address; without it, work is credited to the volunteer's PeerId
  --address 0x…      sign in as that address without giving the key to the volunteer: it prints the sign-in
                     message, and you paste the signature from your wallet (personal_sign, 0x + 130 hex digits)
  --listen ADDR      where to accept TCP connections from other Node volunteers: a port, or a multiaddr such as
                     /ip4/0.0.0.0/tcp/4001 (default: a free port on all interfaces); "none" for no TCP, WebRTC only
  --help             this text`

export interface VolunteerArgs {
  link: CampaignLink
  /** 0-based stage asked for, or null to let the tracker (or the checkpoint) decide. */
  stage: number | null
  dataDir: string
  gpuBudget: number
  walletKeyFile: string | null
  /** `--address`: sign in as this address with a signature pasted on stdin (lower-case 0x hex), or null. */
  address: string | null
  /** TCP multiaddrs to listen on, or null (`--listen none`): no TCP, WebRTC only. */
  listen: string[] | null
}

/** `--listen`'s default: a free port on all IPv4 interfaces. */
export const DEFAULT_TCP_LISTEN = '/ip4/0.0.0.0/tcp/0'

export type ParsedArgs = { help: true } | ({ help: false } & VolunteerArgs)

const VALUES = new Set(['stage', 'data-dir', 'gpu-budget', 'wallet-key', 'listen', 'address'])

/** `--listen`: "none", a port (all interfaces), or a plain TCP multiaddr. */
function parseListen (v: string): string[] | null {
  if (v === 'none') return null
  if (/^\d+$/.test(v)) {
    const port = Number(v)
    if (port > 65535) throw new UsageError(`--listen port must be 0–65535, got "${v}"`)
    return [`/ip4/0.0.0.0/tcp/${port}`]
  }
  let names: string[]
  try {
    names = multiaddr(v).getComponents().map(c => c.name)
  } catch {
    throw new UsageError(`--listen must be a port, a TCP multiaddr such as /ip4/0.0.0.0/tcp/4001, or none; got "${v}"`)
  }
  if (names.length !== 2 || !['ip4', 'ip6'].includes(names[0]) || names[1] !== 'tcp') throw new UsageError(`--listen must be a port, a TCP multiaddr such as /ip4/0.0.0.0/tcp/4001, or none; got "${v}"`)
  return [v]
}

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
  const address = flags.get('address')
  if (w != null && address != null) throw new ConflictingOptionsError('--address and --wallet-key are two ways to sign in: give one')
  if (address != null && !/^0x[0-9a-fA-F]{40}$/.test(address)) throw new UsageError(`--address must be an Ethereum address, 0x and 40 hex digits; got "${address.slice(0, 60)}"`)
  return {
    help: false,
    link,
    stage,
    dataDir: resolve(flags.get('data-dir') ?? defaultDataDir(env)),
    gpuBudget,
    walletKeyFile: w != null ? resolve(w) : null,
    address: address?.toLowerCase() ?? null,
    listen: parseListen(flags.get('listen') ?? DEFAULT_TCP_LISTEN)
  }
}
