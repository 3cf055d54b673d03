// Float64 reference of causal multi-head attention (llm.c `attention_forward/backward`, but with
// the log-sum-exp saved instead of the (T, T) probabilities, as the flash kernels do).
// qkv is (B, T, 3C) from c_attn: q, k, v along the last dim, head h in columns h*HS..(h+1)*HS.

export interface AttentionForwardResult {
  /** (B, T, C), heads interleaved back, ready for c_proj */
  out: Float64Array
  /** (B, NH, T), log-sum-exp of the scaled scores of each query row */
  lse: Float64Array
}

function headSize (C: number, NH: number): number {
  if (!Number.isInteger(C / NH)) throw new Error(`attention: C=${C} is not a multiple of NH=${NH}`)
  return C / NH
}

export function attentionForward (qkv: Float64Array, B: number, T: number, C: number, NH: number): AttentionForwardResult {
  const HS = headSize(C, NH)
  if (qkv.length !== B * T * 3 * C) throw new Error(`attention: qkv has ${qkv.length} elements, want ${B * T * 3 * C}`)
  const scale = 1 / Math.sqrt(HS)
  const out = new Float64Array(B * T * C)
  const lse = new Float64Array(B * NH * T)
  const scores = new Float64Array(T)
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const q = (b * T + t) * 3 * C + h * HS
        // pass 1: scaled scores q·k over the causal prefix, and their max
        let max = -Infinity
        for (let t2 = 0; t2 <= t; t2++) {
          const k = (b * T + t2) * 3 * C + C + h * HS
          let s = 0
          for (let i = 0; i < HS; i++) s += qkv[q + i] * qkv[k + i]
          s *= scale
          scores[t2] = s
          if (s > max) max = s
        }
        // pass 2: softmax normaliser
        let sum = 0
        for (let t2 = 0; t2 <= t; t2++) sum += Math.exp(scores[t2] - max)
        lse[(b * NH + h) * T + t] = max + Math.log(sum)
        // pass 3: probability-weighted sum of values
        const o = (b * T + t) * C + h * HS
        for (let t2 = 0; t2 <= t; t2++) {
          const p = Math.exp(scores[t2] - max) / sum
          const v = (b * T + t2) * 3 * C + 2 * C + h * HS
          for (let i = 0; i < HS; i++) out[o + i] += p * qkv[v + i]
        }
      }
    }
  }
  return { out, lse }
}

/** Returns dqkv (B, T, 3C) for the loss gradient dout (B, T, C). Recomputes the forward itself. */
export function attentionBackward (dout: Float64Array, qkv: Float64Array, B: number, T: number, C: number, NH: number): Float64Array {
  const HS = headSize(C, NH)
  if (dout.length !== B * T * C) throw new Error(`attention: dout has ${dout.length} elements, want ${B * T * C}`)
  const scale = 1 / Math.sqrt(HS)
  const { lse } = attentionForward(qkv, B, T, C, NH)
  const dqkv = new Float64Array(B * T * 3 * C)
  const p = new Float64Array(T)
  const dp = new Float64Array(T)
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const q = (b * T + t) * 3 * C + h * HS
        const o = (b * T + t) * C + h * HS
        const rowLse = lse[(b * NH + h) * T + t]
        // probabilities P[t2] = exp(s - lse) and dP[t2] = dout·v[t2]; D = Σ P dP = dout·out
        let D = 0
        for (let t2 = 0; t2 <= t; t2++) {
          const k = (b * T + t2) * 3 * C + C + h * HS
          const v = k + C
          let s = 0
          let d = 0
          for (let i = 0; i < HS; i++) {
            s += qkv[q + i] * qkv[k + i]
            d += dout[o + i] * qkv[v + i]
          }
          p[t2] = Math.exp(s * scale - rowLse)
          dp[t2] = d
          D += p[t2] * d
        }
        // softmax backward dS = P (dP - D); then through the scaled dot product and into V
        for (let t2 = 0; t2 <= t; t2++) {
          const k = (b * T + t2) * 3 * C + C + h * HS
          const v = k + C
          const ds = p[t2] * (dp[t2] - D) * scale
          for (let i = 0; i < HS; i++) {
            dqkv[q + i] += ds * qkv[k + i]
            dqkv[k + i] += ds * qkv[q + i]
            dqkv[v + i] += p[t2] * dout[o + i]
          }
        }
      }
    }
  }
  return dqkv
}
