// The compute worker's API, as the main thread sees it through comlink. Tensors cross as
// transferred ArrayBuffers (comlink `transfer`), never copied.
import type { AdapterSummary, DeviceLoss } from '../gpu/device.ts'
import type { GPTConfig, StageRange } from '../model/config.ts'
import type { StepOptions } from '../model/stage.ts'

export type ProbeResult =
  | { type: 'ok', adapter: AdapterSummary, inWorker: true }
  | { type: 'no-webgpu', reason: string }

export interface StageSpec {
  config: GPTConfig
  range: StageRange
  /** Microbatch rows. */
  B: number
  T: number
  /** Deterministic init seed, used when `params` is absent. */
  seed: number
  /** Starting weights (a live replica's, or a checkpoint's), laid out by model/params.ts. */
  params?: Float32Array
  /** Activation slots for microbatches in flight; the worker adds one more for spot runs. @default 1 */
  slots?: number
}

export type Progress = { phase: 'device' | 'compile' | 'init' | 'ready', message: string, fraction: number }

export interface ForwardResult {
  /** (B, T, C) activations for the next stage; null on the last stage. */
  output: Float32Array | null
  /** Mean loss over the microbatch; only on the last stage. */
  loss: number | null
  ms: number
}

export interface BackwardResult {
  /** (B, T, C) gradient for the previous stage; null on stage 0. */
  dInput: Float32Array | null
  ms: number
}

export interface ComputeApi {
  /** Finds the GPU from inside the worker (where the training runs), with its limits and features. */
  probe(): Promise<ProbeResult>
  /** Measures sustained matmul throughput (FLOP/s) with a short run, for stage assignment. */
  benchmark(): Promise<{ flopsPerSecond: number, ms: number }>
  /** Builds the stage's buffers and pipelines; reports progress through `onProgress`. */
  initStage(spec: StageSpec, onProgress?: (p: Progress) => void): Promise<{ paramCount: number, ms: number }>
  /** Forward into activation slot `slot` (kept until that slot's backward). @default slot 0 */
  forward(input: Float32Array | Uint32Array, targets?: Uint32Array, slot?: number): Promise<ForwardResult>
  /** Last stage: from its own loss; others: from d(output). Accumulates parameter gradients. @default slot 0 */
  backward(dOutput?: Float32Array, slot?: number): Promise<BackwardResult>
  zeroGrad(): Promise<void>
  step(opts: StepOptions): Promise<{ ms: number, stepCount: number }>
  /**
   * A spot-check run: the output this stage would hand over for `input` (activations, or on the
   * last stage d(input)), leaving the accumulated gradients as they were. @default the spare slot
   */
  spotRun(input: Float32Array, targets?: Uint32Array, slot?: number): Promise<{ output: Float32Array, ms: number }>
  /** Generates text from the current stage, which must hold the whole model (one-stage training). */
  sample(prompt: Uint32Array, maxNewTokens: number, temperature: number): Promise<Uint32Array>
  exportParams(): Promise<Float32Array>
  importParams(params: Float32Array): Promise<void>
  /**
   * Registers a listener for GPU device loss. The worker then drops its device and stage; the
   * next initStage builds both again on a new device.
   */
  onDeviceLost(listener: (loss: DeviceLoss) => void): Promise<void>
}
