// WebGPU in Node through the `webgpu` package (Dawn): the CLI trainer and the train benchmark run
// the browser's kernel code unchanged. Installs the WebGPU globals (GPUBufferUsage, …) and returns
// a GPU object for requestTabgradDevice({ gpu }).
import { existsSync, readdirSync } from 'node:fs'
import { create, globals } from 'webgpu'
import { requestTabgradDevice, type TabgradDevice } from '../gpu/device.ts'
import { NoWebGpuError } from '../gpu/errors.ts'

// Chromium ships SwiftShader's Vulkan ICD; Dawn finds it through the loader's variables
// (ENVIRONMENT.md "Node WebGPU (Dawn)"). Debian's lavapipe is too old for Dawn.
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json'

/**
 * True when the machine shows no GPU device node and no driver is named, so Dawn would find no
 * adapter (or a Mesa software one too old for it). A GPU driver always comes with a node:
 * /dev/nvidia0 (NVIDIA), /dev/dri/renderD* (Mesa, AMD, Intel), /dev/kfd (ROCm).
 */
function noGpuDriver (env: NodeJS.ProcessEnv): boolean {
  if (process.platform !== 'linux') return false
  if (env.VK_ICD_FILENAMES != null || env.VK_DRIVER_FILES != null) return false
  if (existsSync('/dev/nvidia0') || existsSync('/dev/kfd')) return false
  try {
    return !readdirSync('/dev/dri').some(f => f.startsWith('renderD'))
  } catch {
    return true
  }
}

/**
 * Falls back to SwiftShader (CPU) when the machine has no GPU driver, so a new user needs no
 * variables. Returns the fallback's name, or null when Dawn will use the machine's own driver.
 */
export function applySoftwareFallback (env: NodeJS.ProcessEnv = process.env): string | null {
  if (!noGpuDriver(env) || !existsSync(SWIFTSHADER_ICD)) return null
  env.VK_ICD_FILENAMES = SWIFTSHADER_ICD
  env.XDG_RUNTIME_DIR ??= '/tmp' // the loader warns and may fail without it
  return 'swiftshader'
}

let installed: GPU | null = null

/**
 * The process's GPU object. One per process, kept referenced here for the process's life: once it
 * is garbage-collected, Dawn's instance goes with it and pending mapAsync calls never settle.
 */
export function nodeGpu (): GPU {
  if (installed != null) return installed
  applySoftwareFallback()
  Object.assign(globalThis, globals)
  installed = create([])
  return installed
}

/** A tabgrad device on Node's WebGPU, with a clear error when Dawn finds no adapter. */
export async function requestNodeDevice (label = 'tabgrad-node'): Promise<TabgradDevice> {
  const gpu = nodeGpu()
  try {
    return await requestTabgradDevice({ gpu, label })
  } catch (err) {
    if (err instanceof NoWebGpuError) {
      throw new NoWebGpuError(
        'Node WebGPU (Dawn) found no GPU adapter. Install a Vulkan driver for your GPU, or Chromium for its SwiftShader fallback ' +
        `(${SWIFTSHADER_ICD}), or set VK_ICD_FILENAMES to a Vulkan ICD JSON file.`)
    }
    throw err
  }
}
