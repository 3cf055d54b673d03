// Hugging Face GPT-2 checkpoints: the fixture in fixtures/hf-tiny was written by the CLI
// (`npm run train -- --config src/model/fixtures/hf-tiny.config.json --steps 0 --seed 7 --stages 2
// --export-hf src/model/fixtures/hf-tiny`), so these tests read what the CLI really exports.
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { exportRange, hfConfigJson, importHfCheckpoint } from './hf-checkpoint.ts'
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from './safetensors.ts'
import { mergeStages } from './checkpoint.ts'
import { fullRange, splitStages, validateConfig } from './config.ts'
import { stageLayout, viewOf } from './params.ts'
import { initStageParams } from './init.ts'

const dir = new URL('./fixtures/hf-tiny/', import.meta.url)
const config = validateConfig(JSON.parse(await readFile(new URL('./fixtures/hf-tiny.config.json', import.meta.url), 'utf8')))
const model = new Uint8Array(await readFile(new URL('model.safetensors', dir)))

/** The fixture's tensors renamed and filtered, as other writers lay GPT-2 out. */
function rewrite (f: (name: string, t: SafeTensor) => Array<[string, SafeTensor]>): Uint8Array {
  const file = decodeSafetensors(model)
  return encodeSafetensors([...file.tensors].flatMap(([n, t]) => f(n, t)), { format: 'pt' })
}

describe('Hugging Face GPT-2 checkpoints', () => {
  it('the CLI export holds the seed-7 init under GPT-2 names, with a config.json for GPT2LMHeadModel', async () => {
    const imp = importHfCheckpoint(model, config)
    const layout = stageLayout(config, fullRange(config))
    expect(imp.params).toEqual(initStageParams(layout, 7))
    expect(imp.tiedHead).toBe(false)
    const names = [...decodeSafetensors(model).tensors.keys()]
    expect(names).toContain('transformer.h.1.mlp.c_proj.weight')
    expect(names).toContain('lm_head.weight')
    expect(decodeSafetensors(model).tensors.get('transformer.h.0.attn.c_attn.weight')!.shape).toEqual([16, 48]) // Conv1D [in, out]
    const hf = JSON.parse(await readFile(new URL('config.json', dir), 'utf8'))
    expect(hf).toEqual(hfConfigJson(config))
    expect(hf).toMatchObject({ model_type: 'gpt2', n_embd: 16, n_layer: 2, n_head: 2, n_positions: 8, vocab_size: 61, tie_word_embeddings: false, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5 })
  })

  it('the CLI\'s stage files hold each stage\'s tensors alone and merge back into the model', async () => {
    const stages = await Promise.all([0, 1].map(async k => new Uint8Array(await readFile(new URL(`stage-${k}.safetensors`, dir)))))
    const [r0, r1] = splitStages(config, 2)
    expect([...decodeSafetensors(stages[0]).tensors.keys()]).toEqual(stageLayout(config, r0).views.map(v => v.name))
    expect([...decodeSafetensors(stages[1]).tensors.keys()]).toEqual(stageLayout(config, r1).views.map(v => v.name))
    expect(importHfCheckpoint(mergeStages(stages), config).params).toEqual(importHfCheckpoint(model, config).params)
    expect(exportRange(importHfCheckpoint(model, config), r1)).toEqual(stages[1])
  })

  it('reads GPT-2\'s own layout: no transformer. prefix, lm_head tied to wte, attention-mask buffers', () => {
    const mask: SafeTensor = { shape: [1, 1, 8, 8], data: new Float32Array(64).fill(1) }
    const file = rewrite((n, t) => n === 'lm_head.weight' ? [] : [[n.replace(/^transformer\./, ''), t], ...(n.endsWith('.ln_1.weight') ? [[n.replace(/^transformer\./, '').replace('ln_1.weight', 'attn.bias'), mask] as [string, SafeTensor]] : [])])
    const imp = importHfCheckpoint(file, config)
    expect(imp.tiedHead).toBe(true)
    expect(imp.skipped).toEqual(['h.0.attn.bias', 'h.1.attn.bias'])
    const l = imp.layout
    expect(viewOf(imp.params, l.byName.get('lm_head.weight')!)).toEqual(viewOf(imp.params, l.byName.get('transformer.wte.weight')!))
    const ours = importHfCheckpoint(model, config)
    expect(viewOf(imp.params, l.byName.get('transformer.h.1.attn.c_attn.weight')!)).toEqual(viewOf(ours.params, l.byName.get('transformer.h.1.attn.c_attn.weight')!))
  })

  it('lists every mismatch: missing, unexpected, wrong shape and wrong dtype', () => {
    const bytes = rewrite((n, t) => {
      if (n === 'transformer.wpe.weight') return [] // missing
      if (n === 'transformer.h.0.mlp.c_fc.weight') return [[n, { shape: [64, 16], data: t.data }]] // transposed
      if (n === 'transformer.ln_f.bias') return [[n, t], ['transformer.h.2.ln_1.weight', t]] // a third layer
      return [[n, t]]
    })
    // A tensor of another dtype with the same byte span: patch the header in place (same length).
    const text = new TextDecoder().decode(bytes)
    const key = '"transformer.h.0.ln_1.weight":{"dtype":"F32"'
    expect(text).toContain(key)
    const patched = new TextEncoder().encode(text.replace(key, key.replace('F32', 'I32')))
    const withDtype = new Uint8Array(bytes); withDtype.set(patched.subarray(0, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))))
    const e2 = (() => { try { importHfCheckpoint(withDtype, config); return null } catch (e) { return e as { problems: string[] } } })()
    expect(e2?.problems).toContain('"transformer.h.0.ln_1.weight" is I32, expected F32')
    expect(e2?.problems).toHaveLength(4)
  })
})
