// Float64 reference matmul (llm.c `matmul_forward`, generalised to the three layouts our kernels use).
// A linear layer's forward is 'nn' with a Conv1D weight [in, out]; its backward needs
// dinp = dout·Wᵀ ('nt') and dweight = inpᵀ·dout ('tn').

export type MatmulLayout = 'nn' | 'nt' | 'tn'

/**
 * out[M,N] = op(A)·op(B) (+ bias[N]).
 * nn: a[M,K], b[K,N]; nt: a[M,K], b[N,K]; tn: a[K,M], b[K,N]. Row-major.
 */
export function matmul (a: Float64Array, b: Float64Array, M: number, K: number, N: number, layout: MatmulLayout, bias?: Float64Array): Float64Array {
  if (a.length < M * K) throw new RangeError(`matmul: a has ${a.length} elements, needs ${M * K}`)
  if (b.length < K * N) throw new RangeError(`matmul: b has ${b.length} elements, needs ${K * N}`)
  if (bias != null && bias.length < N) throw new RangeError(`matmul: bias has ${bias.length} elements, needs ${N}`)
  const out = new Float64Array(M * N)
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = bias != null ? bias[n] : 0
      for (let k = 0; k < K; k++) {
        const av = layout === 'tn' ? a[k * M + m] : a[m * K + k]
        const bv = layout === 'nt' ? b[n * K + k] : b[k * N + n]
        acc += av * bv
      }
      out[m * N + n] = acc
    }
  }
  return out
}
