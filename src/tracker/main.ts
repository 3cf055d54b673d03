// `npm start`: the tracker process. Settings: flags or environment variables (config.ts).
import '../node/register.ts'
import { parseTrackerConfig, ConfigError } from './config.ts'
import { startTracker } from './tracker.ts'
import { campaignLink } from '../campaign/manifest.ts'

let config
try {
  config = parseTrackerConfig(process.argv.slice(2), process.env)
} catch (err) {
  if (err instanceof ConfigError) { console.error(err.message); process.exit(2) }
  throw err
}

try {
  const tracker = await startTracker(config)
  console.log(`tabgrad tracker ${tracker.publicUrl}${tracker.publicUrl !== tracker.url ? ` (listening on ${tracker.url})` : ''}`)
  console.log(`  demo campaign: ${campaignLink(tracker.publicUrl, tracker.demoCampaignId, tracker.relay.peerId.toString())}`)
  console.log(`  relay: WebSockets on the same port (${tracker.relay.peerId.toString()})`)
  console.log(`  NAT traversal: ${config.turn != null ? `TURN ${config.turn.join(', ')}` : 'no TURN'}; ${config.stun != null ? `STUN ${config.stun.join(', ')}` : 'no STUN (tabs reach only peers on their own network)'}`)
  console.log(`  data: ${config.dataDir}`)
  // Campaigns and uploads need a researcher signed in with Ethereum, or the operator: this link signs a browser in as the operator.
  console.log(`  operator sign-in (creates campaigns; keep it private): ${tracker.url}/api/admin/login?token=${tracker.adminToken}`)
  let closing = false
  const shutdown = (signal: string): void => {
    if (closing) return
    closing = true
    console.log(`\n${signal}: shutting down`)
    tracker.close().then(() => process.exit(0), err => { console.error(err); process.exit(1) })
    setTimeout(() => process.exit(1), 5000).unref()
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
} catch (err) {
  console.error(`tabgrad tracker failed to start: ${(err as Error).message}`)
  process.exit(1)
}
