// Decoding through one pipeline stage with KV caches (inference): each call moves one new
// position per row through the stage's layers, using the weights the GptStage it wraps trains
// (no copy), so generation answers with whatever step those weights are at. Every layer keeps
// the keys and values of the positions seen so far (gpu/kernels/attention-decode.ts), so a new
// token costs one position of compute, not the whole prefix. Rows are independent requests:
// each has its own length and can be reset when its request ends or is evicted.
import { Matmul } from '../gpu/kernels/matmul.ts'
import { LayerNorm } from '../gpu/kernels/layernorm.ts'
import { Residual } from '../gpu/kernels/residual.ts'
import { Embedding } from '../gpu/kernels/embedding.ts'
import { DecodeAttention, KvCache } from '../gpu/kernels/attention-decode.ts'
import { createTensor, createU32Tensor, readTensor, writeTensor, type GpuTensor } from '../gpu/tensor.ts'
import type { GptStage } from './stage.ts'
import type { ParamView } from './params.ts'
import { ModelInputError } from './errors.ts'

export interface DecodeStageInit {
  /** Rows: requests decoded together. @default 1 */
  B?: number
  /** Positions each row may hold. @default the model's n_ctx */
  maxT?: number
}

export class DecodeStage {
  readonly B: number
  readonly maxT: number
  readonly stage: GptStage
  readonly #device: GPUDevice
  readonly #caches: KvCache[]
  readonly #attention: DecodeAttention
  readonly #ln: LayerNorm
  readonly #residual: Residual
  readonly #embedding: Embedding | null
  readonly #mm: { qkv: Matmul, attproj: Matmul, fc: Matmul, fcproj: Matmul, logits: Matmul | null }
  readonly #t: Record<'input' | 'ln' | 'atty' | 'attproj' | 'res2' | 'fcproj' | 'x0' | 'x1' | 'out', GpuTensor> & { tokens: GpuTensor, qkv: GpuTensor, fch: GpuTensor, fchGelu: GpuTensor, mean: GpuTensor, rstd: GpuTensor, logits: GpuTensor | null }

  constructor (device: GPUDevice, stage: GptStage, init: DecodeStageInit = {}) {
    const { config } = stage
    const B = init.B ?? 1
    const maxT = init.maxT ?? config.n_ctx
    if (!Number.isInteger(B) || B < 1) throw new ModelInputError(`decode: B must be a positive integer, got ${B}`)
    if (!Number.isInteger(maxT) || maxT < 1 || maxT > config.n_ctx) throw new ModelInputError(`decode: maxT must be an integer in [1, n_ctx = ${config.n_ctx}], got ${maxT}`)
    const C = config.d_model; const V = config.vocab; const NH = config.n_head
    this.B = B; this.maxT = maxT; this.stage = stage
    this.#device = device
    this.#caches = []
    for (let l = stage.range.first; l < stage.range.last; l++) this.#caches.push(new KvCache(device, B, C, NH, maxT))
    this.#attention = new DecodeAttention(device, B, C, NH, maxT)
    this.#ln = new LayerNorm(device, B, C)
    this.#residual = new Residual(device, [B, C])
    this.#embedding = stage.isFirst ? new Embedding(device, B, 1, C, V, config.n_ctx) : null
    const label = `decode[${stage.range.first},${stage.range.last})`
    this.#mm = {
      qkv: new Matmul(device, { M: B, K: C, N: 3 * C, layout: 'nn', bias: true, label: `${label}.qkv` }),
      attproj: new Matmul(device, { M: B, K: C, N: C, layout: 'nn', bias: true, label: `${label}.attproj` }),
      fc: new Matmul(device, { M: B, K: C, N: 4 * C, layout: 'nn', bias: true, epilogue: 'gelu', label: `${label}.fc` }),
      fcproj: new Matmul(device, { M: B, K: 4 * C, N: C, layout: 'nn', bias: true, label: `${label}.fcproj` }),
      logits: stage.isLast ? new Matmul(device, { M: B, K: C, N: V, layout: 'nt', label: `${label}.logits` }) : null
    }
    const t = (shape: number[], name: string): GpuTensor => createTensor(device, shape, `${label}.${name}`)
    this.#t = {
      tokens: createU32Tensor(device, [B, 1], `${label}.tokens`),
      input: t([B, 1, C], 'input'), ln: t([B, C], 'ln'), qkv: t([B, 1, 3 * C], 'qkv'), atty: t([B, 1, C], 'atty'),
      attproj: t([B, C], 'attproj'), res2: t([B, C], 'res2'), fch: t([B, 4 * C], 'fch'), fchGelu: t([B, 4 * C], 'fch_gelu'),
      fcproj: t([B, C], 'fcproj'), x0: t([B, C], 'x0'), x1: t([B, C], 'x1'), out: t([B, C], 'out'),
      mean: t([B], 'mean'), rstd: t([B], 'rstd'), logits: stage.isLast ? t([B, V], 'logits') : null
    }
  }

  /** Positions row b holds. */
  length (b: number): number { return this.#caches[0].length(b) }

  /** Ends row b's request: its next input is position 0 of a new sequence. */
  reset (b: number): void { for (const c of this.#caches) c.reset(b) }

  /** GPU memory of the caches. */
  get cacheBytes (): number { return this.#caches.reduce((n, c) => n + c.bytes, 0) }

  /**
   * One position per row: token ids (B) on the first stage, else the residual stream (B, C) the
   * previous stage returned. Returns the logits (B, V) on the last stage, else the residual
   * stream (B, C) for the next stage.
   */
  async step (input: Uint32Array | Float32Array): Promise<Float32Array> {
    const { B } = this
    const { config } = this.stage
    const C = config.d_model
    for (let b = 0; b < B; b++) if (this.length(b) >= this.maxT) throw new ModelInputError(`decode: row ${b} already holds ${this.maxT} positions; reset it before decoding more`)
    if (this.stage.isFirst) {
      if (!(input instanceof Uint32Array) || input.length !== B) throw new ModelInputError(`decode: the first stage takes B = ${B} token ids (Uint32Array)`)
      for (const tok of input) if (tok >= config.vocab) throw new ModelInputError(`token ${tok} is outside the vocabulary (${config.vocab})`)
      writeTensor(this.#device, this.#t.tokens, input)
    } else {
      if (!(input instanceof Float32Array) || input.length !== B * C) throw new ModelInputError(`decode: this stage takes a (B, C) = ${B * C}-element Float32Array`)
      writeTensor(this.#device, this.#t.input, input)
    }
    const enc = this.#device.createCommandEncoder({ label: 'decode.step' })
    const pass = enc.beginComputePass({ label: 'decode.step' })
    this.#encode(pass)
    pass.end()
    this.#device.queue.submit([enc.finish()])
    return await readTensor(this.#device, this.#t.logits ?? this.#t.out)
  }

  #encode (pass: GPUComputePassEncoder): void {
    const { B } = this
    const C = this.stage.config.d_model
    const p = (v: ParamView): GpuTensor => this.stage.paramTensor(v)
    const flat = (x: GpuTensor, n: number): GpuTensor => ({ ...x, shape: [B, n] })
    const t = this.#t
    const m = this.#mm
    const layout = this.stage.layout
    // The caches claim their next positions first: the embedding reads them (all layers agree).
    for (const c of this.#caches) c.claim()
    if (this.#embedding != null) this.#embedding.forwardAt(pass, t.input, t.tokens, this.#caches[0].pos, p(layout.embedding!.wte), p(layout.embedding!.wpe))
    let x = flat(t.input, C)
    let pending: [GpuTensor, GpuTensor] | null = null
    const xs = [t.x0, t.x1]
    for (let l = this.stage.range.first, i = 0; l < this.stage.range.last; l++, i++) {
      const w = layout.layerView(l)
      if (pending != null) {
        // x = the previous layer's res2 + fcproj, written by the LayerNorm that reads it
        x = xs[i % 2]
        this.#ln.forwardResidual(pass, t.ln, t.mean, t.rstd, x, pending[0], pending[1], p(w.ln1w), p(w.ln1b))
      } else {
        this.#ln.forward(pass, t.ln, t.mean, t.rstd, x, p(w.ln1w), p(w.ln1b))
      }
      m.qkv.encode(pass, t.ln, p(w.qkvw), flat(t.qkv, 3 * C), p(w.qkvb))
      this.#attention.encode(pass, t.atty, t.qkv, this.#caches[i])
      m.attproj.encode(pass, flat(t.atty, C), p(w.attprojw), t.attproj, p(w.attprojb))
      this.#ln.forwardResidual(pass, t.ln, t.mean, t.rstd, t.res2, x, t.attproj, p(w.ln2w), p(w.ln2b))
      m.fc.encode(pass, t.ln, p(w.fcw), t.fch, p(w.fcb), t.fchGelu)
      m.fcproj.encode(pass, t.fchGelu, p(w.fcprojw), t.fcproj, p(w.fcprojb))
      pending = [t.res2, t.fcproj]
    }
    if (this.stage.isLast) {
      const h = layout.head!
      this.#ln.forwardResidual(pass, t.ln, t.mean, t.rstd, t.out, pending![0], pending![1], p(h.lnfw), p(h.lnfb))
      m.logits!.encode(pass, t.ln, p(h.lmhead), t.logits!)
    } else {
      this.#residual.forward(pass, t.out, pending![0], pending![1])
    }
  }

  destroy (): void {
    for (const c of this.#caches) c.destroy()
    this.#attention.destroy()
    for (const x of Object.values(this.#t)) x?.buffer.destroy()
  }
}
