// A small flag parser for the CLIs: `--name value`, `--name=value` and boolean `--flag`.

export class UsageError extends Error {
  override name = 'UsageError'
}

export function parseFlags (argv: string[], spec: { values: string[], booleans?: string[] }, usage: string): Map<string, string | true> {
  const out = new Map<string, string | true>()
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(argv[i])
    if (m == null) throw new UsageError(`unexpected argument "${argv[i]}"\n${usage}`)
    const [, name, inline] = m
    if (spec.booleans?.includes(name) === true) { out.set(name, true); continue }
    if (!spec.values.includes(name)) throw new UsageError(`unknown flag --${name}\n${usage}`)
    const v = inline ?? argv[++i]
    if (v == null) throw new UsageError(`--${name} needs a value\n${usage}`)
    out.set(name, v)
  }
  return out
}

export function intFlag (flags: Map<string, string | true>, name: string, fallback: number | undefined, usage: string, min = 1): number {
  const v = flags.get(name)
  if (v == null) {
    if (fallback == null) throw new UsageError(`--${name} is required\n${usage}`)
    return fallback
  }
  const n = Number(v)
  if (typeof v !== 'string' || !Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}, got "${String(v)}"\n${usage}`)
  return n
}
