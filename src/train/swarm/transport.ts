// What the swarm runtime needs from the network, as small interfaces. The libp2p implementation
// is libp2p-transport.ts; the simulator and the unit tests pass in-memory ones.
import type { SenderSignedReceipt, SignedReceipt } from '../../ledger/receipt.ts'
import type { WireTensor } from '../../codec/boundary.ts'

/** A replica's weights as they travel between replicas: the step they belong to and, in a sync, the contribution's weight. */
export interface SyncWeights { step: number, params: Float32Array, weight?: number }

export type TensorKind = 'activations' | 'gradients'

/** Meta a tensor carries: the route's receipts so far, and whether it is a spot-check copy. */
/** `loss` rides on gradients: the last stage's loss of the microbatch, for stage 0 to report with its completion. */
/** `eval`: a validation batch (the microbatch field is its index) for the weights after that many steps: forward only, no receipts. */
export interface TensorMeta { receipts?: unknown[], spot?: 'shadow', loss?: number, eval?: number }

export interface OutboundTensor {
  microbatch: number
  kind: TensorKind
  /** The sender's applied optimizer step (receivers learn the tracker's step from it). */
  optimizerStep: number
  data: Float32Array
  meta: TensorMeta
  /** `data` as the campaign's codec encoded it (what crosses the wire and what digests cover); absent: raw float32. */
  wire?: WireTensor
}

export interface InboundTensor extends OutboundTensor {
  from: string
  /** The shape the sender's header declared (the gate checks it against the stage's). */
  shape?: readonly number[]
  /** sha256 of the payload, hex. */
  sha256: string
  /** Payload bytes as they crossed the wire (encoded). @default data.byteLength */
  payloadBytes?: number
}

/** Stage-to-stage tensors. `send` resolves once the receiver took custody (acked). */
export interface TensorTransport {
  send(to: string, t: OutboundTensor): Promise<{ ms: number, bytes: number }>
  /** Is there a live direct connection to `peer` (a reloaded tab lost our work)? */
  connected(peer: string): boolean
  /** Dials ahead of need, so no microbatch waits on a cold dial. */
  warm(peer: string): Promise<void>
  /** Fetches a peer's weights of this stage (`'latest'` or a sync step). */
  fetchWeights(peer: string, step: number | 'latest', expectElements: number, timeoutMs: number): Promise<SyncWeights>
  /** Closes every connection to a peer that broke the protocol. @default nothing to close */
  disconnect?(peer: string): Promise<void>
}

/** Hop receipts: this tab's signature as sender, and its countersignature as receiver. */
export interface HopSigner {
  sign(hop: { microbatch: number, stage: number, direction: 'fwd' | 'bwd', flops: number, inDigest: string, outDigest: string, to: string }): Promise<SenderSignedReceipt>
  countersign(r: SenderSignedReceipt): Promise<SignedReceipt>
  /** sha256 hex of a tensor's bytes. */
  digest(data: Float32Array | Uint32Array | Uint8Array): Promise<string>
}
