// `tabgrad volunteer <link>` / `npm run volunteer -- <link>`: a headless volunteer. Setup errors
// (bad link, unreachable tracker, bad key file) print one line and exit 2; Ctrl-C saves the
// checkpoint, hands the leases back and exits 0; a failure while training exits 1.
import '../node/register.ts'
import { parseVolunteerArgs, VOLUNTEER_USAGE } from './volunteer-args.ts'
import { ConflictingOptionsError, SetupError } from './errors.ts'
import { LEAVE_TIMEOUT_MS } from './constants.ts'
import { ProgressDisplay } from './progress-display.ts'

async function main (argv: string[]): Promise<number> {
  // `tabgrad volunteer …` and `npm run volunteer -- …` both land here; the subcommand is optional.
  const rest = argv[0] === 'volunteer' ? argv.slice(1) : argv
  if (rest.length === 0) { process.stderr.write(`${VOLUNTEER_USAGE}\n`); return 2 }
  const parsed = parseVolunteerArgs(rest)
  if (parsed.help) { process.stdout.write(`${VOLUNTEER_USAGE}\n`); return 0 }
  const display = new ProgressDisplay(process.stdout)
  // Imported after the arguments are checked: a typo answers at once, without loading libp2p and Dawn.
  const { startVolunteer } = await import('./volunteer.ts')
  const volunteer = await startVolunteer(parsed, { log: line => { display.log(line) }, snapshot: s => { display.update(s) } })
  display.tokensPerMicrobatch = volunteer.manifest.training.microbatch * volunteer.manifest.training.seq_len
  let interrupted = false
  const stop = (signal: string): void => {
    if (interrupted) { display.log(`${signal} again: exiting without waiting`); process.exit(130) }
    interrupted = true
    display.log(`${signal}: saving the checkpoint and handing the work back (again to exit at once)`)
    setTimeout(() => { display.log('leaving took too long: exiting'); process.exit(1) }, LEAVE_TIMEOUT_MS).unref()
    void volunteer.leave()
  }
  process.on('SIGINT', () => { stop('SIGINT') })
  process.on('SIGTERM', () => { stop('SIGTERM') })
  const end = await volunteer.ended
  if (end.kind !== 'left') await volunteer.leave()
  display.close()
  if (end.kind === 'error') { process.stderr.write(`tabgrad volunteer: ${end.message}\n`); return 1 }
  display.log(end.kind === 'done' ? 'the campaign reached its last step: thank you' : 'left the campaign')
  return 0
}

try {
  process.exit(await main(process.argv.slice(2)))
} catch (err) {
  if (err instanceof SetupError) {
    process.stderr.write(`tabgrad volunteer: ${err.message}\n`)
    if (err instanceof ConflictingOptionsError) process.stderr.write(`${VOLUNTEER_USAGE}\n`)
    process.exit(2)
  }
  process.stderr.write(`tabgrad volunteer failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
}
