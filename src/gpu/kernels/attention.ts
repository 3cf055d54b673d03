// Causal multi-head attention, flash style (FlashAttention-2): qkv (B, T, 3C) → out (B, T, C) and
// lse (B, NH, T); no (T, T) matrix is ever stored. Backward recomputes the probabilities from lse
// and, since WGSL has no float atomics, splits into D = rowsum(dout ∘ out), a dQ kernel (loop over
// key blocks) and a dK/dV kernel (loop over query blocks). dqkv is written, not accumulated.
import attentionSrc from '../../../shaders/attention.wgsl?raw'
import { timeKernel } from '../autotune.ts'
import { attentionBackwardSource } from './attention-backward-main.ts'
import type { TabgradDevice } from '../device.ts'
import { LimitError, ShapeError } from '../errors.ts'
import { randomArray } from '../numerics.ts'
import { computePipeline } from '../pipeline-cache.ts'
import { binding, createBuffer, createTensor, expectShape, type GpuTensor } from '../tensor.ts'

/** Block shape of the flash kernels; the autotuner picks one per direction and head size. */
export interface AttentionConfig {
  /** Query rows per block. */
  br: number
  /** Keys per block. */
  bc: number
  /** Threads per block row; each owns HS/(4·tpr) vec4s of the row's output. */
  tpr: number
  /** Backward only: query rows (dQ) and keys (dK/dV) per thread, a register tile. @default 1 */
  rm?: number
}

/**
 * Candidates; `attentionConfigs` keeps those that fit an adapter, in this order. 16×16 leads: the
 * untuned default on small adapters (see defaultAttentionConfig); backward's 2 rows per thread ran
 * 1.45× the one-row kernel on SwiftShader (B·NH=16, T=128, HS=64). rm > 1 is backward only.
 */
export const ATTENTION_CONFIGS: readonly AttentionConfig[] = [
  { br: 16, bc: 16, tpr: 4, rm: 2 },
  { br: 16, bc: 16, tpr: 4 },
  { br: 16, bc: 16, tpr: 4, rm: 4 },
  { br: 32, bc: 16, tpr: 4 },
  { br: 16, bc: 8, tpr: 4 },
  { br: 8, bc: 16, tpr: 4 },
  { br: 32, bc: 32, tpr: 8 },
  { br: 64, bc: 32, tpr: 4 }
]

export type AttentionDirection = 'forward' | 'backward'

/** Per-thread output registers in the shader (MAXV vec4s). */
const MAXV = 8
const WG_D = 64

export function attentionConfigName (c: AttentionConfig): string {
  return `br${c.br}_bc${c.bc}_tpr${c.tpr}${(c.rm ?? 1) > 1 ? `_rm${c.rm}` : ''}`
}

/** Workgroup memory of a direction's largest kernel, as laid out in shaders/attention.wgsl. */
export function attentionWorkgroupBytes (dir: AttentionDirection, HS: number, c: AttentionConfig): number {
  const row = HS + 4 // tile rows carry one vec4 of padding (bank conflicts)
  const scores = (c.br + 1) * (c.bc + 1)
  if (dir === 'forward') return ((c.br + 2 * c.bc) * row + 2 * scores) * 4 // Q, K, V, S, P
  return ((2 * c.br + 2 * c.bc) * row + 2 * scores + 2 * c.br) * 4 // Q, dout, K, V, P, dS, lse, D
}

/** Why `c` can't run for this head size on a device with `limits`, or null when it can. */
export function attentionConfigProblem (dir: AttentionDirection, HS: number, c: AttentionConfig, limits: GPUSupportedLimits): string | null {
  const HS4 = HS / 4
  if (!Number.isInteger(HS4)) return `head size ${HS} is not a multiple of 4`
  if (HS4 % c.tpr !== 0) return `head size ${HS} does not split over ${c.tpr} threads per row in vec4s`
  if (HS4 / c.tpr > MAXV) return `head size ${HS} needs ${HS4 / c.tpr} vec4s per thread, more than ${MAXV}`
  if (c.br % c.tpr !== 0 || c.bc % c.tpr !== 0) return `blocks ${c.br}×${c.bc} do not split over ${c.tpr} threads per row`
  const rm = c.rm ?? 1
  if (!Number.isInteger(rm) || rm < 1) return `rows per thread ${rm} must be a positive integer`
  if (dir === 'forward' && rm !== 1) return 'forward runs one row per thread'
  if (c.br % rm !== 0 || c.bc % rm !== 0) return `blocks ${c.br}×${c.bc} do not split into ${rm} rows per thread`
  const threads = Math.max(c.br, dir === 'backward' ? c.bc : 0) / rm * c.tpr
  if (threads > limits.maxComputeInvocationsPerWorkgroup || threads > limits.maxComputeWorkgroupSizeX) return `${threads} threads per workgroup exceed the adapter's limit`
  const bytes = attentionWorkgroupBytes(dir, HS, c)
  if (bytes > limits.maxComputeWorkgroupStorageSize) return `${bytes} bytes of workgroup memory exceed the adapter's ${limits.maxComputeWorkgroupStorageSize}`
  return null
}

/** The candidate configs that run for this direction and head size on a device with `limits`. */
export function attentionConfigs (dir: AttentionDirection, HS: number, limits: GPUSupportedLimits): AttentionConfig[] {
  return ATTENTION_CONFIGS.filter(c => attentionConfigProblem(dir, HS, c, limits) == null)
}

export interface AttentionInit {
  /** @default defaultAttentionConfig('forward', HS, device.limits) */
  forward?: AttentionConfig
  /** @default defaultAttentionConfig('backward', HS, device.limits) */
  backward?: AttentionConfig
}

function pickConfig (device: GPUDevice, dir: AttentionDirection, HS: number, given: AttentionConfig | undefined): AttentionConfig {
  if (given != null) {
    const problem = attentionConfigProblem(dir, HS, given, device.limits)
    if (problem != null) throw new LimitError(`attention.${dir} ${attentionConfigName(given)}: ${problem}`)
    return given
  }
  const config = defaultAttentionConfig(dir, HS, device.limits)
  if (config == null) throw new LimitError(`attention.${dir}: no block config fits head size ${HS} on this adapter`)
  return config
}

// Bigger blocks for adapters with room for them (1024 threads and 48 KiB per workgroup): on an
// H100 they ran 1.3× (forward 32×16) and 1.6× (backward 32×32, 8 threads per row) faster than
// 16×16 at B=8 T=1024 NH=12 HS=64, while SwiftShader (256 threads, 32 KiB) was slower with them.
const BIG_ADAPTER_CONFIGS: Record<AttentionDirection, AttentionConfig> = {
  forward: { br: 32, bc: 16, tpr: 4 },
  backward: { br: 32, bc: 32, tpr: 8 }
}

/** The untuned choice: the big-adapter config where it applies and fits, else the first that fits. */
export function defaultAttentionConfig (dir: AttentionDirection, HS: number, limits: GPUSupportedLimits): AttentionConfig | undefined {
  const big = BIG_ADAPTER_CONFIGS[dir]
  if (limits.maxComputeInvocationsPerWorkgroup >= 1024 && limits.maxComputeWorkgroupStorageSize >= 49152 &&
    attentionConfigProblem(dir, HS, big, limits) == null) return big
  return attentionConfigs(dir, HS, limits)[0]
}

/** A plan for one shape (B, T, C, NH): pipelines, uniforms and the D scratch are built once. */
export class Attention {
  readonly B: number
  readonly T: number
  readonly C: number
  readonly NH: number
  readonly HS: number
  readonly forwardConfig: AttentionConfig
  readonly backwardConfig: AttentionConfig
  readonly #device: GPUDevice
  readonly #params: GPUBuffer
  readonly #dsum: GPUBuffer // (B, NH, T)
  readonly #forward: GPUComputePipeline
  readonly #d: GPUComputePipeline
  readonly #dq: GPUComputePipeline
  readonly #dkv: GPUComputePipeline

  constructor (device: GPUDevice, B: number, T: number, C: number, NH: number, init: AttentionInit = {}) {
    for (const [name, v] of Object.entries({ B, T, C, NH })) {
      if (!Number.isInteger(v) || v <= 0) throw new ShapeError(`attention: ${name}=${v} must be a positive integer`)
    }
    if (C % NH !== 0) throw new ShapeError(`attention: C=${C} is not a multiple of NH=${NH}`)
    const HS = C / NH
    if (HS % 4 !== 0) throw new ShapeError(`attention: head size ${HS} is not a multiple of 4`)
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension
    if (NH > maxGroups || B > maxGroups) throw new LimitError(`attention: B=${B} or NH=${NH} exceed maxComputeWorkgroupsPerDimension`)
    if (Math.ceil(T / 8) > maxGroups) throw new LimitError(`attention: T=${T} needs more blocks than maxComputeWorkgroupsPerDimension`)
    this.B = B
    this.T = T
    this.C = C
    this.NH = NH
    this.HS = HS
    this.#device = device
    this.forwardConfig = pickConfig(device, 'forward', HS, init.forward)
    this.backwardConfig = pickConfig(device, 'backward', HS, init.backward)

    this.#params = device.createBuffer({ label: 'attention.params', size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST })
    const data = new ArrayBuffer(16)
    new Uint32Array(data, 0, 3).set([B, T, NH])
    new Float32Array(data, 12, 1)[0] = 1 / Math.sqrt(HS)
    device.queue.writeBuffer(this.#params, 0, data)
    this.#dsum = createBuffer(device, B * NH * T, 'attention.dsum')

    const constants = (c: AttentionConfig): Record<string, number> => ({ HS, BR: c.br, BC: c.bc, TPR: c.tpr, WG_D })
    const f = this.forwardConfig
    const bw = this.backwardConfig
    this.#forward = computePipeline(device, `attention.forward_hs${HS}_${attentionConfigName(f)}`, attentionSrc, constants(f), 'forward')
    const bkey = `hs${HS}_${attentionConfigName(bw)}`
    this.#d = computePipeline(device, `attention.backward_d_hs${HS}`, attentionSrc, constants(bw), 'backward_d')
    // dQ and dK/dV are generated for this head size and config (named registers, static indices)
    const bsrc = attentionBackwardSource({ HS, br: bw.br, bc: bw.bc, tpr: bw.tpr, rm: bw.rm ?? 1 })
    this.#dq = computePipeline(device, `attention.backward_dq_${bkey}`, bsrc, constants(bw), 'backward_dq')
    this.#dkv = computePipeline(device, `attention.backward_dkv_${bkey}`, bsrc, constants(bw), 'backward_dkv')
  }

  /** out (B, T, C), lse (B, NH, T) ← qkv (B, T, 3C). */
  forward (pass: GPUComputePassEncoder, out: GpuTensor, lse: GpuTensor, qkv: GpuTensor): void {
    const { B, T, C, NH } = this
    expectShape(out, [B, T, C], 'attention.forward out')
    expectShape(lse, [B, NH, T], 'attention.forward lse')
    expectShape(qkv, [B, T, 3 * C], 'attention.forward qkv')
    pass.setPipeline(this.#forward)
    pass.setBindGroup(0, this.#bind(this.#forward, 'attention.forward', { 1: qkv, 2: out, 3: lse }))
    pass.dispatchWorkgroups(Math.ceil(T / this.forwardConfig.br), NH, B)
  }

  /** dqkv (B, T, 3C), written ← dout (B, T, C) and forward's qkv, out, lse. */
  backward (pass: GPUComputePassEncoder, dqkv: GpuTensor, dout: GpuTensor, qkv: GpuTensor, out: GpuTensor, lse: GpuTensor): void {
    const { B, T, C, NH } = this
    expectShape(dqkv, [B, T, 3 * C], 'attention.backward dqkv')
    expectShape(dout, [B, T, C], 'attention.backward dout')
    expectShape(qkv, [B, T, 3 * C], 'attention.backward qkv')
    expectShape(out, [B, T, C], 'attention.backward out')
    expectShape(lse, [B, NH, T], 'attention.backward lse')
    const rows = B * NH * T
    const groups = Math.ceil(rows / WG_D)
    const maxGroups = this.#device.limits.maxComputeWorkgroupsPerDimension
    pass.setPipeline(this.#d)
    pass.setBindGroup(0, this.#bind(this.#d, 'attention.backward_d', { 2: out, 4: dout, 6: this.#dsum }))
    // 2D grid when the rows outgrow one dimension; the shader flattens (x, y) back.
    const gx = Math.min(groups, maxGroups)
    pass.dispatchWorkgroups(gx, Math.ceil(groups / gx))
    pass.setPipeline(this.#dq)
    pass.setBindGroup(0, this.#bind(this.#dq, 'attention.backward_dq', { 1: qkv, 3: lse, 4: dout, 5: dqkv, 6: this.#dsum }))
    pass.dispatchWorkgroups(Math.ceil(T / this.backwardConfig.br), NH, B)
    pass.setPipeline(this.#dkv)
    pass.setBindGroup(0, this.#bind(this.#dkv, 'attention.backward_dkv', { 1: qkv, 3: lse, 4: dout, 5: dqkv, 6: this.#dsum }))
    pass.dispatchWorkgroups(Math.ceil(T / this.backwardConfig.bc), NH, B)
  }

  /** Frees the plan's own buffers (not the tensors passed in). */
  destroy (): void {
    this.#params.destroy()
    this.#dsum.destroy()
  }

  #bind (pipeline: GPUComputePipeline, label: string, tensors: Record<number, GpuTensor | GPUBuffer>): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.#params } }]
    for (const [k, t] of Object.entries(tensors)) {
      entries.push({ binding: Number(k), resource: t instanceof GPUBuffer ? { buffer: t } : binding(t) })
    }
    return this.#device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries })
  }
}

// ---- tuning

export interface AttentionTuneResult {
  forward: AttentionConfig
  backward: AttentionConfig
  /** Milliseconds per iteration of every candidate, by config name. */
  timings: { forward: Record<string, number>, backward: Record<string, number> }
}

/**
 * Times every candidate that fits, for this exact shape, forward and backward, and returns the
 * fastest of each (pass them as `AttentionInit`). Uses its own scratch tensors.
 */
export async function tuneAttention (tg: TabgradDevice, B: number, T: number, C: number, NH: number, init: { iterations?: number } = {}): Promise<AttentionTuneResult> {
  const { device } = tg
  const HS = C / NH
  const iterations = init.iterations ?? 2
  const qkv = createTensor(device, [B, T, 3 * C], 'attention.tune.qkv', randomArray(B * T * 3 * C, 1))
  const dout = createTensor(device, [B, T, C], 'attention.tune.dout', randomArray(B * T * C, 2))
  const out = createTensor(device, [B, T, C], 'attention.tune.out')
  const lse = createTensor(device, [B, NH, T], 'attention.tune.lse')
  const dqkv = createTensor(device, [B, T, 3 * C], 'attention.tune.dqkv')
  const timings: AttentionTuneResult['timings'] = { forward: {}, backward: {} }
  const best = async (dir: AttentionDirection): Promise<AttentionConfig> => {
    let choice: AttentionConfig | undefined
    let bestMs = Infinity
    for (const config of attentionConfigs(dir, HS, device.limits)) {
      const plan = new Attention(device, B, T, C, NH, { [dir]: config })
      const encode = dir === 'forward'
        ? (pass: GPUComputePassEncoder) => plan.forward(pass, out, lse, qkv)
        : (pass: GPUComputePassEncoder) => plan.backward(pass, dqkv, dout, qkv, out, lse)
      const t = await timeKernel(tg, encode, { iterations, label: `attention.tune.${dir}` })
      timings[dir][attentionConfigName(config)] = t.ms
      if (t.ms < bestMs) { bestMs = t.ms; choice = config }
      plan.destroy()
    }
    if (choice == null) throw new LimitError(`attention.${dir}: no block config fits head size ${HS} on this adapter`)
    return choice
  }
  try {
    // forward first: its out and lse feed the backward timings
    const forward = await best('forward')
    const backward = await best('backward')
    return { forward, backward, timings }
  } finally {
    for (const t of [qkv, dout, out, lse, dqkv]) t.buffer.destroy()
  }
}
