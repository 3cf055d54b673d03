// A GPU tensor is a view into a storage buffer: fp32 elements at an element offset, with a shape.
// Parameters, gradients and activations are each one flat buffer with named views (see src/model).
import { DTypeError, ShapeError } from './errors.ts'

/** f32 for every float tensor; u32 for token ids and targets. */
export type DType = 'f32' | 'u32'

export interface GpuTensor {
  buffer: GPUBuffer
  /** Offset in elements (not bytes) from the start of the buffer. */
  offset: number
  shape: readonly number[]
  dtype: DType
}


export function numel (shape: readonly number[]): number {
  let n = 1
  for (const d of shape) n *= d
  return n
}

export function createBuffer (device: GPUDevice, elements: number, label: string): GPUBuffer {
  // Round up to 16 bytes so vec4 loads near the end stay in bounds.
  const size = Math.max(16, Math.ceil((elements * 4) / 16) * 16)
  return device.createBuffer({ label, size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST })
}

export function createTensor (device: GPUDevice, shape: readonly number[], label: string, data?: Float32Array): GpuTensor {
  return createTyped(device, shape, label, 'f32', data)
}

export function createU32Tensor (device: GPUDevice, shape: readonly number[], label: string, data?: Uint32Array): GpuTensor {
  return createTyped(device, shape, label, 'u32', data)
}

function createTyped (device: GPUDevice, shape: readonly number[], label: string, dtype: DType, data?: Float32Array | Uint32Array): GpuTensor {
  checkShape(shape, label)
  const t: GpuTensor = { buffer: createBuffer(device, numel(shape), label), offset: 0, shape, dtype }
  if (data != null) writeTensor(device, t, data)
  return t
}

export function writeTensor (device: GPUDevice, t: GpuTensor, data: Float32Array | Uint32Array): void {
  if (data.length !== numel(t.shape)) throw new ShapeError(`${t.buffer.label}: data has ${data.length} elements, tensor needs ${numel(t.shape)}`)
  device.queue.writeBuffer(t.buffer, t.offset * 4, data.buffer, data.byteOffset, data.byteLength)
}

/** Copies a tensor back to the CPU (waits for the queue). u32 tensors come back reinterpreted: use `.buffer`. */
export async function readTensor (device: GPUDevice, t: GpuTensor): Promise<Float32Array> {
  const bytes = numel(t.shape) * 4
  const staging = device.createBuffer({ label: `${t.buffer.label}.readback`, size: Math.max(4, Math.ceil(bytes / 4) * 4), usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ })
  const enc = device.createCommandEncoder({ label: 'readback' })
  enc.copyBufferToBuffer(t.buffer, t.offset * 4, staging, 0, bytes)
  device.queue.submit([enc.finish()])
  await staging.mapAsync(GPUMapMode.READ)
  const out = new Float32Array(staging.getMappedRange().slice(0))
  staging.unmap()
  staging.destroy()
  return out
}

export function checkShape (shape: readonly number[], what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d <= 0) throw new ShapeError(`${what}: shape [${shape.join(', ')}] must be positive integers`)
  }
}

export function expectShape (t: GpuTensor, shape: readonly number[], what: string, dtype: DType = 'f32'): void {
  if (t.dtype !== dtype) throw new DTypeError(`${what}: expected ${dtype}, got ${String(t.dtype)}`)
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new ShapeError(`${what}: expected shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`)
  }
  const needBytes = (t.offset + numel(shape)) * 4
  if (needBytes > t.buffer.size) throw new ShapeError(`${what}: view [${t.offset}, +${numel(shape)}) runs past its ${t.buffer.size}-byte buffer`)
}

/** A view of `shape` into `buffer` at an element offset. */
export function view (buffer: GPUBuffer, offset: number, shape: readonly number[], dtype: DType = 'f32'): GpuTensor {
  return { buffer, offset, shape, dtype }
}

/**
 * Views are bound with a byte offset, which WebGPU requires to be a multiple of
 * minStorageBufferOffsetAlignment (256 on every adapter seen so far, the spec's maximum):
 * flat buffers therefore place each view at a multiple of 64 elements.
 */
export const VIEW_ALIGN_ELEMENTS = 64

export function alignElements (n: number): number {
  return Math.ceil(n / VIEW_ALIGN_ELEMENTS) * VIEW_ALIGN_ELEMENTS
}

/** The bind-group entry resource for a tensor view. */
export function binding (t: GpuTensor): GPUBufferBinding {
  if (t.offset % VIEW_ALIGN_ELEMENTS !== 0) throw new ShapeError(`${t.buffer.label}: view offset ${t.offset} is not a multiple of ${VIEW_ALIGN_ELEMENTS} elements`)
  // Bind whole vec4s so vec4 loads of the last elements are legal.
  const bytes = Math.ceil((numel(t.shape) * 4) / 16) * 16
  return { buffer: t.buffer, offset: t.offset * 4, size: Math.min(bytes, t.buffer.size - t.offset * 4) }
}
