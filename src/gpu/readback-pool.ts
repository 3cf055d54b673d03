// Staging buffers for readbacks that nobody waits for at once: a buffer being mapped can't be a
// copy destination, so each in-flight readback takes its own and gives it back once read. With
// k steps in flight the pool holds k buffers.

export class ReadbackPool {
  readonly #device: GPUDevice
  readonly #bytes: number
  readonly #label: string
  readonly #free: GPUBuffer[] = []
  readonly #all: GPUBuffer[] = []

  constructor (device: GPUDevice, elements: number, label: string) {
    this.#device = device
    this.#bytes = Math.max(16, Math.ceil(elements / 4) * 16)
    this.#label = label
  }

  /** A free staging buffer (COPY_DST | MAP_READ) of the pool's size. */
  take (): GPUBuffer {
    const b = this.#free.pop() ?? this.#device.createBuffer({ label: `${this.#label}${this.#all.length}`, size: this.#bytes, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ })
    if (!this.#all.includes(b)) this.#all.push(b)
    return b
  }

  /** Maps `buffer` once the queue has written it, copies `elements` floats out and returns it to the pool. */
  async read (buffer: GPUBuffer, elements: number): Promise<Float32Array> {
    await buffer.mapAsync(GPUMapMode.READ, 0, elements * 4)
    const out = new Float32Array(buffer.getMappedRange(0, elements * 4).slice(0))
    buffer.unmap()
    this.#free.push(buffer)
    return out
  }

  destroy (): void {
    for (const b of this.#all) b.destroy()
    this.#all.length = 0
    this.#free.length = 0
  }
}
