// The kernel benchmark's registry: every op we time, with its onnxruntime-web twin where one
// exists. A kernel family adds its ops by exporting a list from src/bench/ops/<family>.ts and
// appending it to KERNEL_OPS below.
import type { MatmulTuner } from '../gpu/autotune.ts'
import type { TabgradDevice } from '../gpu/device.ts'
import type { OnnxGraph } from './onnx.ts'
import { matmulOps } from './ops/matmul.ts'
import { attentionOps } from './ops/attention.ts'
import { pointwiseOps } from './ops/pointwise.ts'
import { attentionDecodeOps } from './ops/attention-decode.ts'

export interface BenchContext {
  tg: TabgradDevice
  /** Shared by all ops so shape classes are tuned once per run. */
  tuner: MatmulTuner
  /** Use the autotuner's choice (else the untuned default). */
  tune: boolean
}

/** Our side of one op: buffers and plans are built; `encode` records one iteration. */
export interface OurRun {
  encode: (pass: GPUComputePassEncoder) => void
  /** Inputs in the order of the ORT twin's graph inputs (fed to ORT as GPU buffers). */
  inputs: GPUBuffer[]
  /** The tensor our kernel writes, compared with ORT's output once. */
  output: GPUBuffer
  /** Anything worth reporting next to the numbers (the tile config, say). */
  notes?: Record<string, unknown>
  destroy: () => void
}

export interface KernelOp {
  /** DESIGN.md name: matmul_nn, attention_fwd, layernorm_bwd, … */
  op: string
  shape: Record<string, number>
  /** Floating-point operations of one iteration (multiply and add counted separately). */
  flops: number
  ours: (ctx: BenchContext) => Promise<OurRun>
  /** One-node ONNX graph computing the same thing; absent where onnxruntime-web has no twin. */
  ort?: OnnxGraph
}

export const KERNEL_OPS: KernelOp[] = [
  ...matmulOps(),
  ...attentionOps(),
  ...attentionDecodeOps(),
  ...pointwiseOps()
]
