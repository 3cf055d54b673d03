import { simulate } from '../src/sim/world.ts'
import { SIM_MODEL } from '../src/cli/sim.ts'
import type { SimPeer } from '../src/sim/peer.ts'
async function main () {
  const ps: SimPeer[] = []
  let n = 0
  const r = await simulate({ peers: 40, stages: 32, hours: 0.25, churn: 0, seed: 1, config: SIM_MODEL, B: 1, T: 1024, speedMedian: 1e12, speedSigma: 0.5, activationBudget: 4 * 2 ** 30, onRuntime: p => { ps.push(p) }, onProgress: p => { console.log(p.simMinutes, JSON.stringify((globalThis as any).__t?.coord.status().microbatches)) } })
  for (const p of ps.filter(p => p.stage === 0)) console.log(p.id, 'requests', p.runtime!.pump.requests, 'free', p.runtime!.compute.freeSlots, 'routes', p.runtime!.router.routes.size, 'slots', p.runtime!.compute.slots)
  console.log(JSON.stringify(r.microbatches), r.lease_requests_per_microbatch, r.tracker)
}
void main()
