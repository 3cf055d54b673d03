// Numbers on the ownership page.

/** `1.5 GFLOP`-style, in SI steps of 1000. */
export function formatFlops (flops: number): string {
  const units = ['FLOP', 'kFLOP', 'MFLOP', 'GFLOP', 'TFLOP', 'PFLOP', 'EFLOP']
  let v = flops
  let u = 0
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u++ }
  return `${u === 0 ? v.toFixed(0) : v.toPrecision(3)} ${units[u]}`
}

/** A share in [0, 1] as a percentage with enough digits to tell a small share from none. */
export function formatShare (share: number): string {
  if (share === 0) return '0%'
  const pct = share * 100
  return `${pct >= 10 ? pct.toFixed(1) : pct >= 0.01 ? pct.toPrecision(3) : '< 0.01'}%`
}
