// Float64 reference global L2 norm over all gradient tensors (for clipping, as llm.c).

export function globalNorm (grads: Float64Array[]): number {
  let sq = 0
  for (const g of grads) {
    for (let i = 0; i < g.length; i++) sq += g[i] * g[i]
  }
  return Math.sqrt(sq)
}
