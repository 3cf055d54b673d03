// One namespaced logger per area (`tabgrad:net`), so output can be filtered, instead of scattered console calls.
// Debug lines show when DEBUG (Node) or localStorage.debug (browser) matches the namespace prefix.

export interface Logger {
  (...args: unknown[]): void
  info(...args: unknown[]): void
  error(...args: unknown[]): void
}

function debugPattern (): string {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> }, localStorage?: Storage }
  try {
    return g.process?.env?.DEBUG ?? g.localStorage?.getItem('debug') ?? ''
  } catch {
    return ''
  }
}

export function createLogger (namespace: string): Logger {
  const pattern = debugPattern()
  const enabled = pattern.split(',').some(p => p !== '' && (p === '*' || namespace.startsWith(p.replace(/\*$/, ''))))
  const debug = ((...args: unknown[]) => { if (enabled) console.debug(`${namespace}`, ...args) }) as Logger
  debug.info = (...args: unknown[]) => { console.info(`${namespace}`, ...args) }
  debug.error = (...args: unknown[]) => { console.error(`${namespace}`, ...args) }
  return debug
}
