// The compute API behind the worker boundary: the stage on one GPU device. The browser runs it in
// the compute worker (compute.worker.ts exposes it over comlink); a headless volunteer in Node
// calls it in-process with Dawn's device. Comlink.transfer only marks buffers to move when it is
// sent over a port, so in-process calls return the same objects.
import * as Comlink from 'comlink'
import { requestTabgradDevice, watchDeviceLoss, type DeviceLoss, type TabgradDevice } from '../gpu/device.ts'
import { Matmul } from '../gpu/kernels/matmul.ts'
import { createTensor } from '../gpu/tensor.ts'
import { GptStage } from '../model/stage.ts'
import { ownsEmbedding, ownsHead } from '../model/config.ts'
import { generate, generateOnStages, samplingStages } from '../train/sample.ts'
import type { BackwardResult, ComputeApi, ForwardResult, ProbeResult, StageSpec } from './protocol.ts'

/** How the API opens its GPU device. @default requestTabgradDevice() (navigator.gpu) */
export type DeviceOpener = () => Promise<TabgradDevice>

/** One stage's compute on the device `openDevice` gives (opened on first use, again after a loss). */
export function createComputeApi (openDevice: DeviceOpener = async () => await requestTabgradDevice()): ComputeApi {
  let gpu: Promise<TabgradDevice> | undefined
  let stage: GptStage | undefined
  let spec: StageSpec | undefined

  /** Who to tell when the device is lost (the page's swarm state, through a comlink proxy). */
  const lossListeners: Array<(loss: DeviceLoss) => void> = []

  function device (): Promise<TabgradDevice> {
    gpu ??= openDevice().then(d => {
      // A lost device is gone for good: forget it and its stage, so the next call builds a new one.
      watchDeviceLoss(d.device, loss => {
        gpu = undefined
        stage = undefined
        for (const l of lossListeners) l(loss)
      })
      return d
    }).catch(err => { gpu = undefined; throw err })
    return gpu
  }

  function requireStage (): GptStage {
    if (stage == null) throw new Error('no stage: call initStage first')
    return stage
  }

  const api: ComputeApi = {
    async probe (): Promise<ProbeResult> {
      try {
        return { type: 'ok', adapter: (await device()).summary, inWorker: true }
      } catch (err) {
        return { type: 'no-webgpu', reason: (err as Error).message }
      }
    },

    async benchmark () {
      const { device: d } = await device()
      const n = 256
      const mm = new Matmul(d, { M: n, K: n, N: n, layout: 'nn' })
      const a = createTensor(d, [n, n], 'bench.a', new Float32Array(n * n).fill(0.5))
      const b = createTensor(d, [n, n], 'bench.b', new Float32Array(n * n).fill(0.25))
      const c = createTensor(d, [n, n], 'bench.c')
      const run = async (iters: number): Promise<void> => {
        const enc = d.createCommandEncoder({ label: 'bench' })
        const pass = enc.beginComputePass({ label: 'bench' })
        for (let i = 0; i < iters; i++) mm.encode(pass, a, b, c)
        pass.end()
        d.queue.submit([enc.finish()])
        await d.queue.onSubmittedWorkDone()
      }
      await run(1) // compile and warm up
      const iters = 4
      const t0 = performance.now()
      await run(iters)
      const ms = performance.now() - t0
      for (const t of [a, b, c]) t.buffer.destroy()
      return { flopsPerSecond: (2 * n * n * n * iters) / (ms / 1000), ms }
    },

    async initStage (s, onProgress) {
      const t0 = performance.now()
      onProgress?.({ phase: 'device', message: 'Opening the GPU', fraction: 0.05 })
      const { device: d } = await device()
      stage?.destroy()
      stage = undefined
      onProgress?.({ phase: 'compile', message: 'Compiling kernels and allocating buffers', fraction: 0.2 })
      // One slot more than asked: spot runs use it and never evict a microbatch's activations.
      const st = new GptStage(d, s.config, s.range, { B: s.B, T: s.T, seed: s.seed, slots: (s.slots ?? 1) + 1, ...(s.params != null ? { params: s.params } : {}) })
      onProgress?.({ phase: 'init', message: s.params != null ? 'Loading weights' : 'Initialising weights from the seed', fraction: 0.8 })
      await d.queue.onSubmittedWorkDone()
      stage = st
      spec = s
      onProgress?.({ phase: 'ready', message: 'Ready', fraction: 1 })
      return { paramCount: (await st.exportParams()).length, ms: performance.now() - t0 }
    },

    async forward (input, targets, slot = 0): Promise<ForwardResult> {
      const st = requireStage()
      const t0 = performance.now()
      const output = await st.forward(input, targets, slot)
      const loss = ownsHead(spec!.config, spec!.range) ? await st.loss(slot) : null
      const result = { output, loss, ms: performance.now() - t0 }
      return output != null ? Comlink.transfer(result, [output.buffer]) : result
    },

    async backward (dOutput, slot = 0): Promise<BackwardResult> {
      const st = requireStage()
      const t0 = performance.now()
      const dInput = await st.backward(dOutput, slot)
      const result = { dInput, ms: performance.now() - t0 }
      return dInput != null ? Comlink.transfer(result, [dInput.buffer]) : result
    },

    async zeroGrad () { requireStage().zeroGrad() },

    async step (opts) {
      const st = requireStage()
      const t0 = performance.now()
      st.step(opts)
      await (await device()).device.queue.onSubmittedWorkDone()
      return { ms: performance.now() - t0, stepCount: st.stepCount }
    },

    async spotRun (input, targets, slot) {
      const st = requireStage()
      const t0 = performance.now()
      const s = slot ?? st.slots - 1
      let out: Float32Array
      if (ownsHead(spec!.config, spec!.range)) {
        const saved = await st.exportGrads()
        await st.forward(input, targets, s)
        out = (await st.backward(undefined, s))!
        st.importGrads(saved)
      } else {
        out = (await st.forward(input, undefined, s))!
      }
      const output = out
      return Comlink.transfer({ output, ms: performance.now() - t0 }, [output.buffer])
    },

    async sample (prompt, maxNewTokens, temperature) {
      const st = requireStage()
      if (!ownsEmbedding(spec!.range) || !ownsHead(spec!.config, spec!.range)) throw new Error('sampling needs the whole model in this tab (train locally first)')
      const { device: d } = await device()
      const opts = { maxNewTokens, temperature, seed: Date.now() % 1e9 }
      // Within the context: KV-cached decoding on the trained weights in place (no copy).
      if (prompt.length > 0 && prompt.length + maxNewTokens <= spec!.config.n_ctx) {
        const out = await generateOnStages(d, [st], prompt, opts)
        return Comlink.transfer(out, [out.buffer])
      }
      const stages = samplingStages(d, spec!.config, [await st.exportParams()], spec!.T)
      try {
        const out = await generate(stages, prompt, opts)
        return Comlink.transfer(out, [out.buffer])
      } finally {
        for (const s of stages) s.destroy()
      }
    },

    async exportParams () {
      const p = await requireStage().exportParams()
      return Comlink.transfer(p, [p.buffer])
    },

    async importParams (params) { requireStage().importParams(params) },

    async onDeviceLost (listener) { lossListeners.push(listener) }
  }
  return api
}
