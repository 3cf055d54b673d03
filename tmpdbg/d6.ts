import { simulate } from '../src/sim/world.ts'
import { SIM_MODEL } from '../src/cli/sim.ts'
import type { SimPeer } from '../src/sim/peer.ts'
async function main () {
  const ps: SimPeer[] = []
  const N = Number(process.argv[2] ?? 1000)
  const r = await simulate({ peers: N, stages: 32, hours: Number(process.argv[3] ?? 0.25), churn: 0, seed: 1, config: SIM_MODEL, B: 1, T: 1024, speedMedian: 1e12, speedSigma: 0.5, activationBudget: 4 * 2 ** 30, restartAt: null, onRuntime: p => { ps.push(p) } })
  const by = new Map<number, SimPeer[]>()
  for (const p of ps) by.set(p.stage!, [...(by.get(p.stage!) ?? []), p])
  for (const [s, list] of [...by].sort((a, b) => a[0] - b[0])) {
    const sum = (f: (p: SimPeer) => number) => list.reduce((a, p) => a + f(p), 0)
    console.log(s, 'n', list.length, 'mbs', sum(p => p.runtime!.counters.microbatches), 'routes', sum(p => p.runtime!.router.routes.size), 'computeS', (sum(p => p.meter.computeMs) / 1000).toFixed(0), 'sentMB', (sum(p => p.endpoint.bytesSent) / 1e6).toFixed(0), 'next', list[0].runtime!.membership.next.length, 'pumpreq', sum(p => p.runtime!.pump.requests), 'held', sum(p => p.runtime!.pump.held), 'applied', list[0].runtime!.steps.applied)
  }
  console.log(JSON.stringify(r.microbatches), r.utilization, r.tracker)
}
void main()
