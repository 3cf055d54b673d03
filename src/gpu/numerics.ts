// Compares a GPU result with a float64 reference and reports the worst difference,
// in the spirit of llm.c's check_tensor. Used by the kernel tests and the model tests.

export interface CloseReport {
  ok: boolean
  /** Worst |got - want| / (atol + rtol * |want|); ok when ≤ 1. */
  worstRatio: number
  worstIndex: number
  worstAbs: number
  got: number
  want: number
  /** Largest |got - want| / max(|want|, tiny) over the tensor, for reporting. */
  maxRel: number
}

export interface CloseOptions {
  /** @default 1e-4 */
  rtol?: number
  /** @default 1e-5 */
  atol?: number
}

export function compareClose (got: ArrayLike<number>, want: ArrayLike<number>, opts: CloseOptions = {}): CloseReport {
  const rtol = opts.rtol ?? 1e-4
  const atol = opts.atol ?? 1e-5
  if (got.length !== want.length) throw new Error(`length mismatch: got ${got.length}, want ${want.length}`)
  let worstRatio = 0; let worstIndex = -1; let worstAbs = 0; let maxRel = 0
  for (let i = 0; i < got.length; i++) {
    const g = got[i]; const w = want[i]
    const abs = Math.abs(g - w)
    const ratio = Number.isFinite(g) ? abs / (atol + rtol * Math.abs(w)) : Infinity
    const rel = abs / Math.max(Math.abs(w), 1e-30)
    if (rel > maxRel) maxRel = rel
    if (ratio > worstRatio || worstIndex < 0) { worstRatio = ratio; worstIndex = i; worstAbs = abs }
  }
  return { ok: worstRatio <= 1, worstRatio, worstIndex, worstAbs, got: got[worstIndex], want: want[worstIndex], maxRel }
}

export function describeClose (name: string, r: CloseReport): string {
  return `${name}: ${r.ok ? 'ok' : 'MISMATCH'} worst at [${r.worstIndex}] got ${r.got} want ${r.want} (|diff| ${r.worstAbs.toExponential(2)}, ratio to tolerance ${r.worstRatio.toFixed(3)})`
}

/** Deterministic uniform noise in [-scale, scale) for test inputs (mulberry32). */
export function randomArray (n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    s = (s + 0x6D2B79F5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale
  }
  return out
}
