// Float64 reference softmax + cross-entropy, fused as llm.c `crossentropy_softmax_backward`.

/**
 * logits (BT,V), targets (BT). loss = mean over BT of -log softmax(logits)[target];
 * losses (BT) per position; dlogits = d(loss)/d(logits) = (softmax - onehot) / BT.
 */
export function crossEntropyForwardBackward (logits: Float64Array, targets: Uint32Array, BT: number, V: number): { loss: number, losses: Float64Array, dlogits: Float64Array } {
  const losses = new Float64Array(BT)
  const dlogits = new Float64Array(BT * V)
  let sum = 0
  for (let i = 0; i < BT; i++) {
    const row = i * V
    let max = -Infinity
    for (let v = 0; v < V; v++) max = Math.max(max, logits[row + v])
    let z = 0
    for (let v = 0; v < V; v++) z += Math.exp(logits[row + v] - max)
    const y = targets[i]
    losses[i] = Math.log(z) + max - logits[row + y]
    sum += losses[i]
    for (let v = 0; v < V; v++) {
      const p = Math.exp(logits[row + v] - max) / z
      dlogits[row + v] = (p - (v === y ? 1 : 0)) / BT
    }
  }
  return { loss: sum / BT, losses, dlogits }
}
