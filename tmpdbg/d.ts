import { simulate } from '../src/sim/world.ts'
import { SIM_MODEL } from '../src/cli/sim.ts'
import type { SimPeer } from '../src/sim/peer.ts'
async function main () {
  const ps: SimPeer[] = []
  const r = await simulate({ peers: 2, stages: 2, hours: 0.02, churn: 0, seed: 1, config: SIM_MODEL, B: 1, T: 1024, speedMedian: 1e12, speedSigma: 0.5, activationBudget: 4 * 2 ** 30, restartAt: null, onRuntime: p => { ps.push(p); p.runtime!.compute.trace = [] } })
  for (const p of ps) console.log(p.id, p.stage, p.runtime!.compute.trace!.slice(0, 30).join(' '), 'routes', p.runtime!.router.routes.size, 'next', p.runtime!.membership.next, 'free', p.runtime!.compute.freeSlots, 'held', p.runtime!.pump.held)
  console.log(JSON.stringify(r.microbatches), r.lease_requests_per_microbatch)
}
void main()
