import { Coordinator } from '../src/tracker/swarm/coordinator.ts'
let t = 0
const init = { stages: 2, accumulation: 4, totalSteps: 10, stageWork: [1, 1], now: () => t, lookahead: 1, leaseTimeoutMs: 1e9 }
const c = new Coordinator(init)
c.join('a', { stage: 0 }); c.heartbeat('a')
console.log(c.lease('a', 3).leases.map(l => l.id))
const cp = c.checkpoint()
console.log(JSON.stringify(cp))
const d = new Coordinator(init)
d.restore(cp)
d.join('a', { stage: 0 }); d.heartbeat('a')
console.log(d.lease('a', 3).leases.map(l => l.id), JSON.stringify(d.status().microbatches))
