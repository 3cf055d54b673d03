// Tracker settings from flags, then environment variables, then defaults.
import { DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, RELAY_PORT_OFFSET, TURN_CREDENTIAL_TTL_S } from './constants.ts'
import { OptionError, parsePublicUrl, parseStunUrls, parseTrustedProxies, parseTurnSecret, parseTurnUrls } from './public-options.ts'

export interface TrackerConfig {
  /** @default '127.0.0.1' (HOST) */
  host: string
  /** HTTP port; 0 picks a free one. @default 8080 (PORT) */
  port: number
  /** The relay's own WebSocket port, on 127.0.0.1 behind the HTTP port; 0 picks a free one. @default port + 1 (RELAY_PORT) */
  relayPort: number
  /** Ledger, identities, campaigns and the relay key live here. @default './.tabgrad' (TABGRAD_DATA_DIR) */
  dataDir: string
  /** Built app to serve. @default './dist' (TABGRAD_STATIC_DIR) */
  staticDir: string
  /**
   * The origin volunteers use (`https://train.example.org`): share links, printed URLs and the
   * relay addresses tabs receive. @default the request's own Host (TABGRAD_PUBLIC_URL)
   */
  publicUrl?: string
  /** STUN servers handed to tabs. @default none: tabs reach only peers on their own network (TABGRAD_STUN) */
  stun?: string[]
  /** TURN servers handed to tabs with short-lived credentials. @default none (TABGRAD_TURN) */
  turn?: string[]
  /** coturn's `static-auth-secret` (use-auth-secret REST scheme). Required with `turn`. (TABGRAD_TURN_SECRET) */
  turnSecret?: string
  /** Lifetime of TURN credentials in seconds. @default 21600 (6 h) */
  turnTtlS?: number
  /** Proxies whose X-Forwarded-* headers are believed. @default none (TABGRAD_TRUSTED_PROXIES) */
  trustedProxies?: string[]
  /** How long a spot-checked replica has to open its check before it counts as skipped. @default 90000 */
  spotDeadlineMs?: number
}

const USAGE = `usage: npm start -- [--host H] [--port P] [--relay-port P] [--data-dir DIR] [--static-dir DIR]
                    [--public-url https://train.example.org] [--stun URL,…] [--turn URL,… --turn-secret S]
                    [--trusted-proxy IP,…]
  env: HOST, PORT, RELAY_PORT, TABGRAD_DATA_DIR, TABGRAD_STATIC_DIR, TABGRAD_PUBLIC_URL, TABGRAD_STUN,
       TABGRAD_TURN, TABGRAD_TURN_SECRET, TABGRAD_TRUSTED_PROXIES`

const FLAGS = ['host', 'port', 'relay-port', 'data-dir', 'static-dir', 'public-url', 'stun', 'turn', 'turn-secret', 'trusted-proxy']

export class ConfigError extends Error {
  override name = 'ConfigError'
}

function parsePort (value: string, what: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || n > 65535) throw new ConfigError(`${what} must be a port number 0-65535, got "${value}"\n${USAGE}`)
  return n
}

/** Runs an option parser and turns its one-line error into a ConfigError with the usage. */
function option<T> (value: string | undefined, what: string, parse: (v: string) => T): T | undefined {
  if (value == null) return undefined
  try {
    return parse(value)
  } catch (err) {
    if (err instanceof OptionError) throw new ConfigError(`${what}: ${err.message}\n${USAGE}`)
    throw err
  }
}

export function parseTrackerConfig (argv: string[], env: Record<string, string | undefined>): TrackerConfig {
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg)
    if (m == null || !FLAGS.includes(m[1])) throw new ConfigError(`unknown argument "${arg}"\n${USAGE}`)
    const value = m[2] ?? argv[++i]
    if (value == null) throw new ConfigError(`--${m[1]} needs a value\n${USAGE}`)
    flags.set(m[1], value)
  }
  const host = flags.get('host') ?? env.HOST ?? DEFAULT_HOST
  const port = parsePort(flags.get('port') ?? env.PORT ?? String(DEFAULT_PORT), 'port')
  const relayRaw = flags.get('relay-port') ?? env.RELAY_PORT
  const relayPort = relayRaw != null ? parsePort(relayRaw, 'relay port') : (port === 0 ? 0 : port + RELAY_PORT_OFFSET)
  const config: TrackerConfig = {
    host,
    port,
    relayPort,
    dataDir: flags.get('data-dir') ?? env.TABGRAD_DATA_DIR ?? DEFAULT_DATA_DIR,
    staticDir: flags.get('static-dir') ?? env.TABGRAD_STATIC_DIR ?? './dist'
  }
  const publicUrl = option(flags.get('public-url') ?? env.TABGRAD_PUBLIC_URL, '--public-url', parsePublicUrl)
  const stun = option(flags.get('stun') ?? env.TABGRAD_STUN, '--stun', parseStunUrls)
  const turn = option(flags.get('turn') ?? env.TABGRAD_TURN, '--turn', parseTurnUrls)
  const turnSecret = option(flags.get('turn-secret') ?? env.TABGRAD_TURN_SECRET, '--turn-secret', parseTurnSecret)
  const trustedProxies = option(flags.get('trusted-proxy') ?? env.TABGRAD_TRUSTED_PROXIES, '--trusted-proxy', parseTrustedProxies)
  if (turn != null && turnSecret == null) throw new ConfigError(`--turn needs --turn-secret (coturn's static-auth-secret)\n${USAGE}`)
  if (turnSecret != null && turn == null) throw new ConfigError(`--turn-secret without --turn: name the TURN servers\n${USAGE}`)
  if (publicUrl != null) config.publicUrl = publicUrl
  if (stun != null) config.stun = stun
  if (turn != null && turnSecret != null) {
    config.turn = turn
    config.turnSecret = turnSecret
    config.turnTtlS = TURN_CREDENTIAL_TTL_S
  }
  if (trustedProxies != null) config.trustedProxies = trustedProxies
  return config
}
