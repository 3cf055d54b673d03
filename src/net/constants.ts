// Network limits and names shared by tabs and the tracker. Each says where its value came from.

/** Gossipsub topic tabs announce themselves on (@libp2p/pubsub-peer-discovery's default is a global topic; ours is per app). */
export const PEER_DISCOVERY_TOPIC = 'tabgrad/_peer-discovery/1'

/** Stream buffers default to 4 MiB in libp2p (ENVIRONMENT.md): frames stay well below. DESIGN.md: ≤1 MiB frames. */
export const MAX_FRAME_BYTES = 1024 * 1024

/** Default timeout of a network operation without its own signal. */
export const DEFAULT_TIMEOUT_MS = 30_000

/**
 * Direct WebRTC dials through the relay: signalling takes a few round trips over the relay. On a
 * CPU-starved machine (many SwiftShader tabs on 2 cores) a dial that hasn't finished in 15 s
 * rarely finishes at all, while a second attempt usually succeeds at once.
 */
export const DIAL_TIMEOUT_MS = 15_000

/**
 * Opening a TCP socket to a Node volunteer's advertised addresses: on a network that reaches it,
 * it connects within a round trip; one behind NAT or a firewall never answers, so give up soon and
 * use WebRTC. (The handshake after it gets DIAL_TIMEOUT_MS.)
 */
export const TCP_CONNECT_TIMEOUT_MS = 3_000

/** Dial attempts per relay before giving up on a direct connection. */
export const DIAL_ATTEMPTS = 2

/** How long the higher PeerId waits for the other tab's dial before dialling itself (glare). */
export const GLARE_WAIT_MS = 1_500

/** Protocol of the blob check (a digest-verified bulk transfer between tabs). */
export const BLOB_PROTOCOL = '/tabgrad/blob/1.0.0'

/** Largest blob a tab accepts on the blob check protocol (rejected before allocation). */
export const MAX_BLOB_BYTES = 64 * 1024 * 1024

/** A discovered peer that hasn't re-announced for this long is gone (5 missed announcements at the 2 s interval). */
export const PEER_EXPIRY_MS = 10_000

/** Protocol of tensor transfer between pipeline stages (DESIGN.md "Wire format for tensors"). */
export const TENSOR_PROTOCOL = '/tabgrad/tensor/1.0.0'

/**
 * Largest tensor header (JSON) accepted. A bare header is about 300 bytes; the route's receipts
 * ride along (about 600 bytes each, 2·(S−1) of them by the last hop), so 16 KiB fits 12 stages
 * while still bounding what an unchecked peer can make us parse.
 */
export const MAX_TENSOR_HEADER_BYTES = 16 * 1024

/** Highest tensor rank on the wire: activations are (B, T, C); 8 leaves room without letting a header carry a long shape list. */
export const MAX_TENSOR_RANK = 8

/** Payload limit of one tensor when a campaign sets none: the same 64 MiB as MAX_BLOB_BYTES (a (B=8, T=1024, C=2048) f32 activation). */
export const DEFAULT_MAX_TENSOR_BYTES = 64 * 1024 * 1024

/** How long a sender waits for one tensor's ack without its own signal: 64 MiB at the slowest measured data channel (14 MB/s, ENVIRONMENT.md) is about 5 s; 60 s also covers a busy receiver. */
export const TENSOR_SEND_TIMEOUT_MS = 60_000

/** Once a tensor starts arriving it must be complete within this, so a stalled sender cannot pin a receiver's buffer (same budget as the sender's). */
export const TENSOR_RECEIVE_TIMEOUT_MS = 60_000

/** How long a receiver tries to flush a nack to a violating peer before it aborts the stream. */
export const NACK_FLUSH_TIMEOUT_MS = 2_000

/** Concurrent inbound tensor streams per connection: one per microbatch in flight; a stage queues a few (libp2p's default is 32 per protocol). */
export const MAX_INBOUND_TENSOR_STREAMS = 32

/** Payload bytes a tab holds at once for tensors being received (all streams together) before it answers BusyError: four tensors at DEFAULT_MAX_TENSOR_BYTES, so MAX_INBOUND_TENSOR_STREAMS senders can't make it allocate 32 × 64 MiB. */
export const TENSOR_RECEIVE_BUDGET_BYTES = 4 * DEFAULT_MAX_TENSOR_BYTES
