// The weights protocol: a replica asks a peer of the same stage for its parameters, either the
// latest (a tab joining the stage) or those right after optimizer step k (replica averaging).
// Weights only ever travel between replicas of one stage; the tracker never sees them.
//
// Request: u32 BE length + JSON {campaign, stage, step: number | 'latest'}.
// Reply:   u32 BE length + JSON {ok: true, step, weight, elements, sha256} + payload (f32 LE) framed by
//          backpressured writes, or {ok: false, error}.
import type { Connection, Stream } from '@libp2p/interface'
import { ByteReader, sendAll, sha256, toHex } from './byte-stream.ts'
import { DigestMismatchError, MalformedFrameError, NetError, OversizedError } from './errors.ts'
import { MAX_FRAME_BYTES } from './constants.ts'

export const WEIGHTS_PROTOCOL = '/tabgrad/weights/1.0.0'

/** Header JSON is tiny; anything larger is an attack. */
const MAX_WEIGHTS_HEADER_BYTES = 4096

export interface WeightsRequest {
  campaign: string
  stage: number
  step: number | 'latest'
}

export interface Weights {
  /** Optimizer steps these weights have taken. */
  step: number
  params: Float32Array
  /** Microbatches these weights learned from since the last sync: their share of a replica average. @default 1 */
  weight?: number
}

export class WeightsUnavailableError extends NetError {
  override name = 'WeightsUnavailableError'
}

function lengthPrefixed (json: unknown): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(json))
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setUint32(0, body.length)
  out.set(body, 4)
  return out
}

async function readJson (reader: ByteReader): Promise<unknown> {
  const n = new DataView((await reader.read(4)).buffer).getUint32(0)
  if (n > MAX_WEIGHTS_HEADER_BYTES) throw new OversizedError(`weights header of ${n} bytes exceeds ${MAX_WEIGHTS_HEADER_BYTES}`)
  try {
    return JSON.parse(new TextDecoder().decode(await reader.read(n)))
  } catch (err) {
    throw new MalformedFrameError(`weights header is not JSON: ${(err as Error).message}`)
  }
}

export interface WeightsServerInit {
  campaign: string
  /**
   * Returns the weights asked for (may wait for this replica to reach the step), or null. Throws
   * to refuse the requester (e.g. not a replica of this stage): it is told the error, nothing more.
   */
  provide(req: WeightsRequest, from: string): Promise<Weights | null>
}

/** Answers one weights request stream. */
export async function serveWeights (stream: Stream, from: string, init: WeightsServerInit): Promise<void> {
  try {
    const req = await readJson(new ByteReader(stream)) as WeightsRequest
    if (req?.campaign !== init.campaign || !Number.isInteger(req.stage) || !(req.step === 'latest' || Number.isInteger(req.step))) {
      stream.send(lengthPrefixed({ ok: false, error: 'bad request' }))
    } else {
      let w: Weights | null
      let refusal: string | null = null
      try {
        w = await init.provide(req, from)
      } catch (err) {
        w = null
        refusal = `${(err as Error).name}: ${(err as Error).message}`.slice(0, 512)
      }
      if (refusal != null) {
        stream.send(lengthPrefixed({ ok: false, error: refusal }))
      } else if (w == null) {
        stream.send(lengthPrefixed({ ok: false, error: `no weights for stage ${req.stage} at step ${req.step}` }))
      } else {
        const payload = new Uint8Array(w.params.buffer, w.params.byteOffset, w.params.byteLength)
        stream.send(lengthPrefixed({ ok: true, step: w.step, weight: w.weight ?? 1, elements: w.params.length, sha256: toHex(await sha256(payload)) }))
        await sendAll(stream, payload, MAX_FRAME_BYTES)
      }
    }
    await stream.close()
  } catch (err) {
    stream.abort(err as Error)
  }
}

export interface FetchWeightsOptions {
  /** The receiving stage's parameter count; any other size is refused before allocation. */
  expectElements: number
  /** @default AbortSignal.timeout(60000) */
  signal?: AbortSignal
}

export async function fetchWeights (connection: Connection, req: WeightsRequest, opts: FetchWeightsOptions): Promise<Weights> {
  const signal = opts.signal ?? AbortSignal.timeout(60_000)
  const stream = await connection.newStream(WEIGHTS_PROTOCOL, { signal, runOnLimitedConnection: false })
  const onAbort = (): void => { stream.abort(new WeightsUnavailableError('weights request timed out')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    stream.send(lengthPrefixed(req))
    const reader = new ByteReader(stream)
    const head = await readJson(reader) as { ok: boolean, error?: string, step?: number, weight?: number, elements?: number, sha256?: string }
    if (head.ok !== true) throw new WeightsUnavailableError(head.error ?? 'peer has no weights')
    if (head.elements !== opts.expectElements) throw new OversizedError(`peer offers ${head.elements} parameters, this stage has ${opts.expectElements}`)
    const bytes = await reader.read(opts.expectElements * 4)
    if (toHex(await sha256(bytes)) !== head.sha256) throw new DigestMismatchError('weights failed their digest')
    await stream.close().catch(() => {})
    // A replica-average share that is not a finite non-negative number is refused, not guessed (the caller caps its size).
    const weight = head.weight ?? 1
    if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) throw new MalformedFrameError(`weights carry the sync weight ${String(weight).slice(0, 40)}`)
    return { step: head.step ?? 0, weight, params: new Float32Array(bytes.buffer, bytes.byteOffset, opts.expectElements) }
  } catch (err) {
    stream.abort(err as Error)
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
