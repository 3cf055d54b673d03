// Float64 reference token + position embedding (llm.c `encoder_forward/backward`).

/** out (B,T,C) = wte[token] + wpe[t]; wte (V,C), wpe (maxT,C). */
export function embeddingForward (tokens: Uint32Array, wte: Float64Array, wpe: Float64Array, B: number, T: number, C: number): Float64Array {
  const out = new Float64Array(B * T * C)
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const ix = tokens[b * T + t]
      const o = (b * T + t) * C
      for (let c = 0; c < C; c++) out[o + c] = wte[ix * C + c] + wpe[t * C + c]
    }
  }
  return out
}

/** Scatter-adds dout (B,T,C) into dwte (V,C) and dwpe (maxT,C). */
export function embeddingBackward (dout: Float64Array, tokens: Uint32Array, B: number, T: number, C: number, V: number, maxT: number): { dwte: Float64Array, dwpe: Float64Array } {
  const dwte = new Float64Array(V * C)
  const dwpe = new Float64Array(maxT * C)
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const ix = tokens[b * T + t]
      const o = (b * T + t) * C
      for (let c = 0; c < C; c++) {
        dwte[ix * C + c] += dout[o + c]
        dwpe[t * C + c] += dout[o + c]
      }
    }
  }
  return { dwte, dwpe }
}
