import { simulate } from '../src/sim/world.ts'
import { SIM_MODEL } from '../src/cli/sim.ts'
import type { SimPeer } from '../src/sim/peer.ts'
async function main () {
  const ps: SimPeer[] = []
  const r = await simulate({ peers: 64, stages: 32, hours: 0.5, churn: 0, seed: 1, config: SIM_MODEL, B: 1, T: 1024, speedMedian: 1e12, speedSigma: 0.5, activationBudget: 4 * 2 ** 30, restartAt: null, settings: { lookahead: 1 }, onRuntime: p => { ps.push(p) } })
  for (const p of ps.sort((a, b) => a.stage! - b.stage!)) {
    const rt = p.runtime!
    console.log(p.stage, p.id, 'mbps', p.link.mbps.toFixed(0), 'joined', (p.joinedAt / 1000).toFixed(0), 'compute s', (p.meter.computeMs / 1000).toFixed(0), 'sentMB', (p.endpoint.bytesSent / 1e6).toFixed(0), 'mbs', rt.counters.microbatches, 'routes', rt.router.routes.size, 'free', rt.compute.freeSlots, 'q', rt.compute.queued, 'next', rt.membership.next.length, 'retried', rt.counters.retried)
  }
  console.log(JSON.stringify(r.microbatches), r.utilization)
}
void main()
