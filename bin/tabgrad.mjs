#!/usr/bin/env node
// `npx tabgrad volunteer <campaign link>`: the package's command. The sources are TypeScript, run
// through tsx's loader registered in this process (no build step, no child process).
import { register } from 'tsx/esm/api'

register()
const [command] = process.argv.slice(2)
if (command === 'volunteer' || command == null || command === '--help' || command === '-h') {
  await import('../src/headless/main.ts')
} else {
  process.stderr.write(`tabgrad: unknown command "${command}" (commands: volunteer)\n`)
  process.exit(2)
}
