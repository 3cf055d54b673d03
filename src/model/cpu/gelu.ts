// Float64 reference GELU, tanh approximation as GPT-2 (llm.c `gelu_forward/backward`).

const GELU_SCALE = Math.sqrt(2 / Math.PI)

export function geluForward (inp: Float64Array): Float64Array {
  const out = new Float64Array(inp.length)
  for (let i = 0; i < inp.length; i++) {
    const x = inp[i]
    out[i] = 0.5 * x * (1 + Math.tanh(GELU_SCALE * (x + 0.044715 * x * x * x)))
  }
  return out
}

/** dinp = gelu'(inp) · dout. */
export function geluBackward (inp: Float64Array, dout: Float64Array): Float64Array {
  const dinp = new Float64Array(inp.length)
  for (let i = 0; i < inp.length; i++) {
    const x = inp[i]
    const u = GELU_SCALE * (x + 0.044715 * x * x * x)
    const th = Math.tanh(u)
    const sech2 = 1 - th * th
    const local = 0.5 * (1 + th) + 0.5 * x * sech2 * GELU_SCALE * (1 + 3 * 0.044715 * x * x)
    dinp[i] = local * dout[i]
  }
  return dinp
}
