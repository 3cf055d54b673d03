// Exact-length reads and backpressured writes over a libp2p v3 stream, which delivers
// arbitrary-sized chunks and signals a full send buffer by `send()` returning false.
import type { Stream } from '@libp2p/interface'
import { NetError, TruncatedError } from './errors.ts'

type Chunk = Uint8Array | { subarray(): Uint8Array }

/** Exact-length reads over a stream's chunks that also tell a clean end between messages apart from a truncation. */
export class ByteReader {
  readonly #iter: AsyncIterator<Chunk>
  #buf: Uint8Array = new Uint8Array(0)
  #pos = 0
  bytesRead = 0

  constructor (source: AsyncIterable<Chunk>) {
    this.#iter = source[Symbol.asyncIterator]()
  }

  /** Waits for data: false if the stream ended cleanly first. */
  async more (): Promise<boolean> {
    while (this.#pos >= this.#buf.length) {
      let next: IteratorResult<Chunk>
      try {
        next = await this.#iter.next()
      } catch (err) {
        throw asStreamError(err)
      }
      if (next.done === true) return false
      const v = next.value
      this.#buf = v instanceof Uint8Array ? v : v.subarray()
      this.#pos = 0
    }
    return true
  }

  /** Fills `out` completely from the stream, or throws TruncatedError if it ends first. */
  async readInto (out: Uint8Array): Promise<void> {
    let filled = 0
    while (filled < out.length) {
      if (!await this.more()) throw new TruncatedError(`stream ended after ${filled} of ${out.length} bytes`)
      const n = Math.min(out.length - filled, this.#buf.length - this.#pos)
      out.set(this.#buf.subarray(this.#pos, this.#pos + n), filled)
      this.#pos += n
      filled += n
      this.bytesRead += n
    }
  }

  async read (n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n)
    await this.readInto(out)
    return out
  }
}

/** A stream reset or transport failure while reading: the message is truncated. */
export function asStreamError (err: unknown): Error {
  if (err instanceof NetError) return err
  return new TruncatedError(`stream failed: ${(err as Error | undefined)?.message ?? String(err)}`, { cause: err })
}

/** Sends bytes, waiting for 'drain' whenever the stream's buffer is full (backpressure). */
export async function sendAll (stream: Stream, data: Uint8Array, chunkBytes: number): Promise<void> {
  for (let off = 0; off < data.length; off += chunkBytes) {
    const chunk = data.subarray(off, Math.min(data.length, off + chunkBytes))
    if (!stream.send(chunk)) await drained(stream)
  }
}

function drained (stream: Stream): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => { cleanup(); resolve() }
    const onClose = (): void => { cleanup(); reject(new TruncatedError('stream closed while waiting to send')) }
    const cleanup = (): void => { stream.removeEventListener('drain', onDrain); stream.removeEventListener('close', onClose) }
    stream.addEventListener('drain', onDrain)
    stream.addEventListener('close', onClose)
  })
}

export async function sha256 (data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data as Uint8Array<ArrayBuffer>))
}

export function toHex (bytes: Uint8Array): string {
  return [...bytes].map(b => b.toString(16).padStart(2, '0')).join('')
}
