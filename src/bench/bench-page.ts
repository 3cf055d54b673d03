// Entry of bench.html: exposes the benchmarks to the Node CLI (src/cli/bench.ts), which calls
// them through page.evaluate and writes the results.
import { runKernelBench } from './run-kernels.ts'

const benches = { kernels: runKernelBench }
export type Benches = typeof benches

declare global {
  interface Window { tabgradBench?: Benches }
}
window.tabgradBench = benches
