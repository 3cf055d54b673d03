import { describe, expect, it } from 'vitest'
import { exportStage, importStage, mergeStages, splitCheckpoint } from './checkpoint.ts'
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from './safetensors.ts'
import { stageLayout, viewOf } from './params.ts'
import { initStageParams } from './init.ts'
import { fullRange, splitStages, type GPTConfig } from './config.ts'

const cfg: GPTConfig = { vocab: 11, d_model: 12, n_layer: 3, n_head: 3, n_ctx: 7 }
const full = stageLayout(cfg, fullRange(cfg))
const params = initStageParams(full, 7)
const ranges = splitStages(cfg, 3)

function errName (fn: () => unknown): string {
  try { fn(); return 'no error' } catch (e) { return (e as Error).name }
}

/** Re-encodes a checkpoint after editing its tensors or metadata. */
function edit (bytes: Uint8Array, f: (t: Map<string, SafeTensor>, m: Record<string, string>) => void): Uint8Array {
  const file = decodeSafetensors(bytes)
  f(file.tensors, file.metadata)
  return encodeSafetensors(file.tensors, file.metadata)
}

describe('stage checkpoints', () => {
  const stage1 = stageLayout(cfg, ranges[1])
  const p1 = initStageParams(stage1, 7)
  const file1 = exportStage(stage1, p1)

  it('holds only the stage\'s tensors, HF names, config and range in metadata', () => {
    const f = decodeSafetensors(file1)
    expect([...f.tensors.keys()]).toEqual(stage1.views.map(v => v.name))
    expect([...f.tensors.keys()].every(n => n.startsWith('transformer.h.1.'))).toBe(true)
    expect(JSON.parse(f.metadata.config)).toEqual(cfg)
    expect(JSON.parse(f.metadata.stage)).toEqual({ first: 1, last: 2 })
  })

  it('round-trips bit-exactly', () => {
    const back = importStage(file1, { config: cfg, range: ranges[1] })
    expect(back.layout.range).toEqual(ranges[1])
    expect(new Uint32Array(back.params.buffer)).toEqual(new Uint32Array(p1.buffer))
    expect(exportStage(back.layout, back.params)).toEqual(file1)
  })

  it('merges stage files into the full model and splits it back', () => {
    const files = ranges.map(r => { const l = stageLayout(cfg, r); return exportStage(l, initStageParams(l, 7)) })
    const merged = mergeStages([files[2], files[0], files[1]])
    expect(merged).toEqual(exportStage(full, params))
    expect(splitCheckpoint(merged, ranges)).toEqual(files)
    expect(errName(() => mergeStages([files[0], files[2]]))).toBe('CheckpointConfigError') // gap
    expect(errName(() => mergeStages([files[0], files[1]]))).toBe('CheckpointConfigError') // short
    expect(errName(() => splitCheckpoint(files[1], [ranges[0]]))).toBe('CheckpointConfigError')
  })

  it('loads a plain file without metadata when the config is given', () => {
    const plain = edit(exportStage(full, params), (_, m) => { delete m.config; delete m.stage })
    expect(importStage(plain, { config: cfg }).params).toEqual(params)
    expect(errName(() => importStage(plain))).toBe('CheckpointConfigError')
  })

  it('rejects missing, unexpected and misshapen tensors', () => {
    const missing = edit(file1, t => { t.delete('transformer.h.1.ln_2.bias') })
    const unexpected = edit(file1, t => { t.set('transformer.h.0.ln_2.bias', { shape: [12], data: new Float32Array(12) }) })
    const renamed = edit(file1, t => { const x = t.get('transformer.h.1.mlp.c_fc.weight')!; t.delete('transformer.h.1.mlp.c_fc.weight'); t.set('h.1.mlp.c_fc.weight', x) })
    const shape = edit(file1, t => { t.set('transformer.h.1.mlp.c_fc.weight', { shape: [48, 12], data: new Float32Array(48 * 12) }) })
    for (const bad of [missing, unexpected, renamed, shape]) expect(errName(() => importStage(bad))).toBe('CheckpointTensorError')
    try { importStage(missing) } catch (e) { expect((e as Error).message).toContain('transformer.h.1.ln_2.bias') }
  })

  it('rejects a config or stage that differs from the expected one, or is unreadable', () => {
    expect(errName(() => importStage(file1, { config: { ...cfg, vocab: 12 } }))).toBe('CheckpointConfigError')
    expect(errName(() => importStage(file1, { range: ranges[0] }))).toBe('CheckpointConfigError')
    expect(errName(() => importStage(edit(file1, (_, m) => { m.config = '{"vocab": 11' })))).toBe('CheckpointConfigError')
    expect(errName(() => importStage(edit(file1, (_, m) => { m.config = JSON.stringify({ ...cfg, n_head: 5 }) })))).toBe('CheckpointConfigError')
    expect(errName(() => importStage(edit(file1, (_, m) => { m.stage = '{"first": 2, "last": 9}' })))).toBe('CheckpointConfigError')
  })

  it('passes container errors through: dtype, truncation', () => {
    // Flip the first tensor's dtype in the header bytes: same width, so only the dtype is wrong.
    const i32 = Uint8Array.from(file1)
    const at = new TextDecoder('latin1').decode(i32.subarray(0, 4096)).indexOf('"dtype":"F32"')
    i32.set(new TextEncoder().encode('"dtype":"I32"'), at)
    expect(errName(() => importStage(i32))).toBe('CheckpointDTypeError')
    expect(errName(() => importStage(file1.subarray(0, file1.length - 3)))).toBe('CheckpointFormatError')
  })

  it('export refuses a params buffer of the wrong size', () => {
    expect(errName(() => exportStage(stage1, new Float32Array(3)))).toBe('CheckpointTensorError')
    expect(viewOf(p1, stage1.layerView(1).ln1w)[0]).toBe(1)
  })
})
