// Tracker settings from flags, then environment variables, then defaults.
import { DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, RELAY_PORT_OFFSET } from './constants.ts'

export interface TrackerConfig {
  /** @default '127.0.0.1' (HOST) */
  host: string
  /** HTTP port; 0 picks a free one. @default 8080 (PORT) */
  port: number
  /** Relay WebSocket port; 0 picks a free one. @default port + 1 (RELAY_PORT) */
  relayPort: number
  /** Ledger, identities, campaigns and the relay key live here. @default './.tabgrad' (TABGRAD_DATA_DIR) */
  dataDir: string
  /** Built app to serve. @default './dist' (TABGRAD_STATIC_DIR) */
  staticDir: string
}

const USAGE = `usage: npm start -- [--host H] [--port P] [--relay-port P] [--data-dir DIR] [--static-dir DIR]
  env: HOST, PORT, RELAY_PORT, TABGRAD_DATA_DIR, TABGRAD_STATIC_DIR`

export class ConfigError extends Error {
  override name = 'ConfigError'
}

function parsePort (value: string, what: string): number {
  const n = Number(value)
  if (!/^\d+$/.test(value) || n > 65535) throw new ConfigError(`${what} must be a port number 0-65535, got "${value}"\n${USAGE}`)
  return n
}

export function parseTrackerConfig (argv: string[], env: Record<string, string | undefined>): TrackerConfig {
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const m = /^--(host|port|relay-port|data-dir|static-dir)(?:=(.*))?$/.exec(arg)
    if (m == null) throw new ConfigError(`unknown argument "${arg}"\n${USAGE}`)
    const value = m[2] ?? argv[++i]
    if (value == null) throw new ConfigError(`--${m[1]} needs a value\n${USAGE}`)
    flags.set(m[1], value)
  }
  const host = flags.get('host') ?? env.HOST ?? DEFAULT_HOST
  const port = parsePort(flags.get('port') ?? env.PORT ?? String(DEFAULT_PORT), 'port')
  const relayRaw = flags.get('relay-port') ?? env.RELAY_PORT
  const relayPort = relayRaw != null ? parsePort(relayRaw, 'relay port') : (port === 0 ? 0 : port + RELAY_PORT_OFFSET)
  return {
    host,
    port,
    relayPort,
    dataDir: flags.get('data-dir') ?? env.TABGRAD_DATA_DIR ?? DEFAULT_DATA_DIR,
    staticDir: flags.get('static-dir') ?? env.TABGRAD_STATIC_DIR ?? './dist'
  }
}
