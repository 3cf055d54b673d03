// Errors of the GPU layer. Code and tests check `err.name`, never the message text.

export class GpuError extends Error {
  override name = 'GpuError'
}

/** No WebGPU at all, or no adapter: the volunteer's browser or machine can't take part. */
export class NoWebGpuError extends GpuError {
  override name = 'NoWebGpuError'
}

/** Shapes that don't fit a kernel's contract, caught before anything is dispatched. */
export class ShapeError extends GpuError {
  override name = 'ShapeError'
}

/** A tensor with a dtype the kernel doesn't take (everything is fp32 today). */
export class DTypeError extends GpuError {
  override name = 'DTypeError'
}

/** The work needs more than the adapter's limits allow. */
export class LimitError extends GpuError {
  override name = 'LimitError'
}
