// One GPUDevice per thread (a device can't be posted between workers). Requests the limits and
// features the kernels can use, above the defaults, but never more than the adapter offers.
import { NoWebGpuError } from './errors.ts'

export interface AdapterSummary {
  vendor: string
  architecture: string
  device: string
  description: string
  isFallbackAdapter: boolean
  features: string[]
  limits: Record<string, number>
}

export interface TabgradDevice {
  device: GPUDevice
  adapter: GPUAdapter
  summary: AdapterSummary
  /** Adapter supports subgroup operations (kernels must still work without them). */
  hasSubgroups: boolean
  hasTimestampQuery: boolean
  hasF16: boolean
}

export interface RequestDeviceInit {
  /** @default 'high-performance' */
  powerPreference?: GPUPowerPreference
  /** The GPU object to use (Node's `webgpu` package passes its own). @default navigator.gpu */
  gpu?: GPU
  /** Label of the device, shown in validation errors. @default 'tabgrad' */
  label?: string
}

// Limits worth raising when the adapter allows it: big storage buffers for parameters and
// activations, the full workgroup memory for matmul tiles, more bindings for fused kernels.
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage'
] as const

const SUMMARY_LIMITS = [
  ...WANTED_LIMITS,
  'maxComputeWorkgroupSizeZ',
  'maxUniformBufferBindingSize',
  'minStorageBufferOffsetAlignment',
  'maxBindGroups'
] as const

const WANTED_FEATURES: GPUFeatureName[] = ['subgroups' as GPUFeatureName, 'timestamp-query', 'shader-f16']

export function summarizeAdapter (adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info
  const limits: Record<string, number> = {}
  for (const name of SUMMARY_LIMITS) limits[name] = Number((adapter.limits as unknown as Record<string, number>)[name])
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    // Older implementations put it on the adapter, newer ones on info.
    isFallbackAdapter: Boolean((info as unknown as { isFallbackAdapter?: boolean })?.isFallbackAdapter ??
      (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    features: [...adapter.features].map(String).sort(),
    limits
  }
}

export async function requestAdapter (init: RequestDeviceInit = {}): Promise<GPUAdapter> {
  const gpu = init.gpu ?? (typeof navigator !== 'undefined' ? navigator.gpu : undefined)
  if (gpu == null) {
    throw new NoWebGpuError('This browser has no WebGPU. Use a recent Chrome, Edge or Firefox, or enable WebGPU in the browser settings.')
  }
  const adapter = await gpu.requestAdapter({ powerPreference: init.powerPreference ?? 'high-performance' })
  if (adapter == null) {
    throw new NoWebGpuError('WebGPU is present but found no usable GPU adapter. Update the graphics driver, or check that hardware acceleration is on in the browser settings.')
  }
  return adapter
}

export async function requestTabgradDevice (init: RequestDeviceInit = {}): Promise<TabgradDevice> {
  const adapter = await requestAdapter(init)
  const requiredLimits: Record<string, number> = {}
  for (const name of WANTED_LIMITS) {
    requiredLimits[name] = Number((adapter.limits as unknown as Record<string, number>)[name])
  }
  const requiredFeatures = WANTED_FEATURES.filter(f => adapter.features.has(f))
  const device = await adapter.requestDevice({ label: init.label ?? 'tabgrad', requiredLimits, requiredFeatures })
  return {
    device,
    adapter,
    summary: summarizeAdapter(adapter),
    hasSubgroups: device.features.has('subgroups'),
    hasTimestampQuery: device.features.has('timestamp-query'),
    hasF16: device.features.has('shader-f16')
  }
}

export interface DeviceLoss {
  /** 'destroyed', 'unknown', or 'error' for an out-of-memory or internal error we gave up on. */
  reason: string
  message: string
}

/**
 * Calls `onLost` once when the device is lost (driver reset, sleep, another app taking the GPU)
 * or hits an out-of-memory or internal error, after which its buffers can't be trusted: the
 * device is destroyed so that every pending call fails fast. Validation errors are bugs, not
 * losses: they are only logged.
 */
export function watchDeviceLoss (device: GPUDevice, onLost: (loss: DeviceLoss) => void): void {
  let reported = false
  const report = (loss: DeviceLoss): void => { if (!reported) { reported = true; onLost(loss) } }
  void device.lost.then(info => { report({ reason: info.reason ?? 'unknown', message: info.message }) })
  device.addEventListener('uncapturederror', e => {
    const err = (e as GPUUncapturedErrorEvent).error
    if (err instanceof GPUValidationError) { console.error('tabgrad: GPU validation error', err.message); return }
    report({ reason: 'error', message: err.message })
    device.destroy()
  })
}
