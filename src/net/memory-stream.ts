// A connected pair of in-memory streams for tests, with the part of libp2p v3's Stream that the
// protocols use: `send` returning false when the peer hasn't read enough (then 'drain'), async
// iteration, `close` (half-close of the writable end), `abort` (reset seen by the other side as an
// error after what it had buffered), 'close' events, status fields. It records what was sent and
// how well the writer respected backpressure. Cast to Stream where a Stream is expected.

export interface MemoryStreamPairInit {
  /** Bytes a side may have in flight (sent, not yet read by the peer) before `send` returns false. @default 4 MiB (libp2p's buffer) */
  capacity?: number
  /** Largest chunk a reader gets: sends are re-sliced, as a network would. @default no limit */
  maxChunkBytes?: number
  /** Delay before each chunk reaches the reader (a slow link or a slow reader). @default 0 */
  readDelayMs?: number
  /** Keep a copy of every byte sent, in `wire`. @default false */
  record?: boolean
}

class StreamStateError extends Error {
  override name = 'StreamStateError'
}

class StreamResetError extends Error {
  override name = 'StreamResetError'
}

export class MemoryStream extends EventTarget {
  status: 'open' | 'closed' | 'aborted' | 'reset' = 'open'
  writeStatus: 'writable' | 'closed' = 'writable'
  readStatus: 'readable' | 'paused' | 'closed' = 'readable'
  /** Like libp2p: bytes held while paused past this reset the stream. */
  maxReadBufferLength = 4 * 1024 * 1024
  writableNeedsDrain = false
  protocol = ''
  direction: 'inbound' | 'outbound'
  /** Byte length of every `send` call. */
  readonly sends: number[] = []
  /** Copies of sent bytes when `record` is set. */
  readonly wire: Uint8Array[] = []
  /** Calls to `send` made while it had last returned false and no 'drain' had come yet. */
  sendsWhileFull = 0
  /** Most bytes ever in flight from this side. */
  peakInFlight = 0
  /** Number of times `send` returned false. */
  fullCount = 0

  peer!: MemoryStream
  inFlight = 0
  readonly #init: Required<MemoryStreamPairInit>
  readonly #queue: Uint8Array[] = []
  #ended = false
  #error: Error | undefined
  #wake: (() => void) | undefined
  #paused: Uint8Array[] = []
  #pausedBytes = 0

  constructor (direction: 'inbound' | 'outbound', init: Required<MemoryStreamPairInit>) {
    super()
    this.direction = direction
    this.#init = init
  }

  send (data: Uint8Array | { subarray(): Uint8Array }): boolean {
    if (this.writeStatus !== 'writable') throw new StreamStateError(`Cannot write to a stream that is ${this.status}`)
    const bytes = data instanceof Uint8Array ? data : data.subarray()
    if (this.writableNeedsDrain) this.sendsWhileFull++
    this.sends.push(bytes.length)
    if (this.#init.record) this.wire.push(bytes.slice())
    const max = this.#init.maxChunkBytes
    for (let off = 0; off < bytes.length; off += max) {
      // Copy, as a network does: the sender may reuse its buffer once the bytes are sent.
      this.peer.#deliver(bytes.slice(off, Math.min(bytes.length, off + max)))
    }
    this.inFlight += bytes.length
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight)
    if (this.inFlight >= this.#init.capacity) {
      this.writableNeedsDrain = true
      this.fullCount++
      return false
    }
    return true
  }

  async close (): Promise<void> {
    if (this.writeStatus === 'closed') return
    this.writeStatus = 'closed'
    this.peer.#end()
    if (this.peer.writeStatus === 'closed' && this.status === 'open') {
      this.#finish('closed')
      this.peer.#finish('closed')
    }
  }

  abort (err: Error): void {
    if (this.status !== 'open') return
    this.#queue.length = 0
    this.#error = err
    this.#ended = true
    this.#wake?.()
    this.#finish('aborted', err, true)
    this.peer.#reset()
  }

  /** Holds incoming bytes back from the reader, as libp2p's pause() does, resetting past maxReadBufferLength. */
  pause (): void {
    if (this.readStatus === 'readable') this.readStatus = 'paused'
  }

  resume (): void {
    if (this.readStatus !== 'paused') return
    this.readStatus = 'readable'
    for (const chunk of this.#paused) this.#queue.push(chunk)
    this.#paused = []
    this.#pausedBytes = 0
    this.#wake?.()
  }

  async * [Symbol.asyncIterator] (): AsyncGenerator<Uint8Array> {
    while (true) {
      while (this.#queue.length === 0 && !this.#ended) {
        await new Promise<void>(resolve => { this.#wake = resolve })
        this.#wake = undefined
      }
      const chunk = this.#queue.shift()
      if (chunk == null) {
        this.readStatus = 'closed'
        if (this.#error != null) throw this.#error
        return
      }
      if (this.#init.readDelayMs > 0) await new Promise(resolve => setTimeout(resolve, this.#init.readDelayMs))
      this.peer.#consumed(chunk.length)
      yield chunk
    }
  }

  #deliver (chunk: Uint8Array): void {
    if (this.status !== 'open' || this.readStatus === 'closed') return
    if (this.readStatus === 'paused') {
      this.#paused.push(chunk)
      this.#pausedBytes += chunk.length
      if (this.#pausedBytes > this.maxReadBufferLength) {
        this.abort(Object.assign(new Error(`read buffer of ${this.#pausedBytes} bytes exceeds ${this.maxReadBufferLength}`), { name: 'StreamBufferError' }))
      }
      return
    }
    this.#queue.push(chunk)
    this.#wake?.()
  }

  #consumed (n: number): void {
    this.inFlight -= n
    if (this.writableNeedsDrain && this.inFlight < this.#init.capacity) {
      this.writableNeedsDrain = false
      queueMicrotask(() => this.dispatchEvent(new Event('drain')))
    }
  }

  #end (): void {
    this.#ended = true
    this.#wake?.()
  }

  /** The peer aborted: what was already delivered can still be read, then the iterator throws. */
  #reset (): void {
    if (this.status !== 'open') return
    this.#error = new StreamResetError('stream reset by the remote')
    this.#ended = true
    this.#wake?.()
    this.#finish('reset', this.#error, false)
  }

  #finish (status: MemoryStream['status'], error?: Error, local?: boolean): void {
    this.status = status
    this.writeStatus = 'closed'
    this.dispatchEvent(Object.assign(new Event('close'), { error, local }))
  }
}

/** Two connected streams: what one sends, the other reads. [outbound (dialer), inbound (listener)]. */
export function memoryStreamPair (init: MemoryStreamPairInit = {}): [MemoryStream, MemoryStream] {
  const full: Required<MemoryStreamPairInit> = {
    capacity: init.capacity ?? 4 * 1024 * 1024,
    maxChunkBytes: init.maxChunkBytes ?? Number.POSITIVE_INFINITY,
    readDelayMs: init.readDelayMs ?? 0,
    record: init.record ?? false
  }
  const a = new MemoryStream('outbound', full)
  const b = new MemoryStream('inbound', full)
  a.peer = b
  b.peer = a
  return [a, b]
}
