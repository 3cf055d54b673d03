// Where a GPU stage keeps its activations and backward scratch. The matmul kernel binds its
// operands as read-only storage and its output as writable storage, and WebGPU forbids both uses
// of one buffer in a dispatch (the Matmul plan also refuses it). So activations.ts's views are
// split over two flat buffers: `mm` holds the views a matmul writes (qkv, attproj, fch and
// fchGelu, which the fc matmul's GELU epilogue writes together, logits), `acts` everything else,
// every view keeping its 64-aligned placement rule. fcproj, a matmul output, lives in `acts`
// because its input fchGelu is in `mm`. Same total memory as one buffer; no copies.
import { alignElements } from '../gpu/tensor.ts'
import type { ActivationLayout, ActView } from './activations.ts'

export type ActBuffer = 'acts' | 'mm'

/** Activation keys (last name segment) placed in `mm`. */
const MATMUL_OUTPUTS = new Set(['qkv', 'attproj', 'fch', 'fchGelu', 'logits'])

export interface PlacedView { view: ActView, buffer: ActBuffer, offset: number }

export interface ActivationPlacement {
  /** elements of each buffer */
  sizes: Record<ActBuffer, number>
  /** by activations.ts view name */
  byName: ReadonlyMap<string, PlacedView>
}

export function placeActivations (layout: ActivationLayout): ActivationPlacement {
  const sizes: Record<ActBuffer, number> = { acts: 0, mm: 0 }
  const byName = new Map<string, PlacedView>()
  for (const view of layout.views) {
    const key = view.name.slice(view.name.lastIndexOf('.') + 1)
    const buffer: ActBuffer = MATMUL_OUTPUTS.has(key) ? 'mm' : 'acts'
    byName.set(view.name, { view, buffer, offset: sizes[buffer] })
    sizes[buffer] = alignElements(sizes[buffer] + view.size)
  }
  return { sizes, byName }
}

/**
 * Backward scratch for one layer at a time (llm.c's grads_acts, reused per layer), in two buffers
 * for the same read/write reason. `res` carries dres (B,T,C), the running gradient of the residual
 * stream that LayerNorm backward accumulates into, and dln (B,T,C), a matmul's dinp. `mid` holds
 * dfch (B,T,4C) in the MLP, then datty (B,T,C) and dqkv (B,T,3C) in attention.
 */
export interface ScratchPlacement {
  res: { size: number, dres: number, dln: number }
  mid: { size: number, dfch: number, datty: number, dqkv: number }
}

export function placeScratch (BT: number, C: number): ScratchPlacement {
  const dlnAt = alignElements(BT * C)
  const dqkvAt = alignElements(BT * C)
  return {
    res: { size: dlnAt + alignElements(BT * C), dres: 0, dln: dlnAt },
    mid: { size: Math.max(alignElements(4 * BT * C), dqkvAt + alignElements(3 * BT * C)), dfch: 0, datty: 0, dqkv: dqkvAt }
  }
}
