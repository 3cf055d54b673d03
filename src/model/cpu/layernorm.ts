// Float64 reference LayerNorm over the last dimension (llm.c `layernorm_forward/backward`).
// inp is (N, C) row-major; N is B·T for a GPT block.

export function layernormForward (inp: Float64Array, weight: Float64Array, bias: Float64Array, N: number, C: number, eps = 1e-5): { out: Float64Array, mean: Float64Array, rstd: Float64Array } {
  const out = new Float64Array(N * C)
  const mean = new Float64Array(N)
  const rstd = new Float64Array(N)
  for (let n = 0; n < N; n++) {
    const x = n * C
    let m = 0
    for (let c = 0; c < C; c++) m += inp[x + c]
    m /= C
    let v = 0
    for (let c = 0; c < C; c++) { const d = inp[x + c] - m; v += d * d }
    v /= C // biased variance, as PyTorch's LayerNorm
    const s = 1 / Math.sqrt(v + eps)
    for (let c = 0; c < C; c++) out[x + c] = (inp[x + c] - m) * s * weight[c] + bias[c]
    mean[n] = m
    rstd[n] = s
  }
  return { out, mean, rstd }
}

/** Same argument order as forward; uses the mean and rstd forward saved. */
export function layernormBackward (dout: Float64Array, inp: Float64Array, weight: Float64Array, mean: Float64Array, rstd: Float64Array, N: number, C: number): { dinp: Float64Array, dweight: Float64Array, dbias: Float64Array } {
  const dinp = new Float64Array(N * C)
  const dweight = new Float64Array(C)
  const dbias = new Float64Array(C)
  for (let n = 0; n < N; n++) {
    const x = n * C
    const m = mean[n]
    const s = rstd[n]
    // Two reductions: mean of dnorm and mean of dnorm·norm.
    let dnormMean = 0
    let dnormNormMean = 0
    for (let c = 0; c < C; c++) {
      const norm = (inp[x + c] - m) * s
      const dnorm = weight[c] * dout[x + c]
      dnormMean += dnorm
      dnormNormMean += dnorm * norm
    }
    dnormMean /= C
    dnormNormMean /= C
    for (let c = 0; c < C; c++) {
      const norm = (inp[x + c] - m) * s
      const dnorm = weight[c] * dout[x + c]
      dbias[c] += dout[x + c]
      dweight[c] += norm * dout[x + c]
      dinp[x + c] = (dnorm - dnormMean - norm * dnormNormMean) * s
    }
  }
  return { dinp, dweight, dbias }
}
