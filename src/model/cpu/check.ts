// Test helpers for references: central finite differences and worst-difference reports (llm.c `check_tensor`).

/** Worst absolute difference and where it is. */
export function maxAbsDiff (a: ArrayLike<number>, b: ArrayLike<number>): { diff: number, index: number } {
  if (a.length !== b.length) throw new RangeError(`maxAbsDiff: lengths ${a.length} and ${b.length} differ`)
  let diff = 0
  let index = -1
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i])
    if (d > diff || Number.isNaN(d)) { diff = d; index = i; if (Number.isNaN(d)) break }
  }
  return { diff, index }
}

/** Largest |a-b| / max(1, |a|, |b|): absolute near zero, relative for big values. */
export function maxRelDiff (a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`maxRelDiff: lengths ${a.length} and ${b.length} differ`)
  let worst = 0
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(a[i]), Math.abs(b[i]))
    if (!(d <= worst)) worst = d
  }
  return worst
}

/**
 * d f / d x by central differences, perturbing x in place (restored afterwards).
 * f must read x each call. indices limits which elements are probed (big tensors).
 */
export function numericGrad (f: () => number, x: Float64Array, h = 1e-5, indices?: number[]): Float64Array {
  const g = new Float64Array(x.length)
  const idx = indices ?? Array.from({ length: x.length }, (_, i) => i)
  for (const i of idx) {
    const x0 = x[i]
    x[i] = x0 + h
    const fp = f()
    x[i] = x0 - h
    const fm = f()
    x[i] = x0
    g[i] = (fp - fm) / (2 * h)
  }
  return g
}

/** Σ w·y: turns a tensor-valued function into a scalar so its VJP with w can be checked. */
export function dot (a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += a[i] * b[i]
  return s
}
