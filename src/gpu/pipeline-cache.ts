// Compute pipelines are costly to build (seconds on SwiftShader): build each once per device,
// keyed by a shader key such as `matmul_nt_64x64x8`.
const caches = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>()

export function cachedPipeline (device: GPUDevice, key: string, build: () => GPUComputePipeline): GPUComputePipeline {
  let cache = caches.get(device)
  if (cache == null) {
    cache = new Map()
    caches.set(device, cache)
  }
  let pipeline = cache.get(key)
  if (pipeline == null) {
    pipeline = build()
    cache.set(key, pipeline)
  }
  return pipeline
}

/** Builds a compute pipeline with an explicit label so validation errors name the culprit. */
export function computePipeline (device: GPUDevice, key: string, code: string, constants: Record<string, number> = {}, entryPoint = 'main'): GPUComputePipeline {
  return cachedPipeline(device, `${key}:${entryPoint}:${JSON.stringify(constants)}`, () => {
    const module = device.createShaderModule({ label: key, code })
    return device.createComputePipeline({
      label: key,
      layout: 'auto',
      compute: { module, entryPoint, constants }
    })
  })
}
