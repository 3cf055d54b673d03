// Network limits and names shared by tabs and the tracker. Each says where its value came from.

/** Gossipsub topic tabs announce themselves on (@libp2p/pubsub-peer-discovery's default is a global topic; ours is per app). */
export const PEER_DISCOVERY_TOPIC = 'tabgrad/_peer-discovery/1'

/** Stream buffers default to 4 MiB in libp2p (ENVIRONMENT.md): frames stay well below. DESIGN.md: ≤1 MiB frames. */
export const MAX_FRAME_BYTES = 1024 * 1024

/** Default timeout of a network operation without its own signal. */
export const DEFAULT_TIMEOUT_MS = 30_000

/** Direct WebRTC dials through the relay: signalling takes a few round trips over the relay. */
export const DIAL_TIMEOUT_MS = 30_000

/** Protocol of the blob check (a digest-verified bulk transfer between tabs). */
export const BLOB_PROTOCOL = '/tabgrad/blob/1.0.0'

/** Largest blob a tab accepts on the blob check protocol (rejected before allocation). */
export const MAX_BLOB_BYTES = 64 * 1024 * 1024

/** A discovered peer that hasn't re-announced for this long is gone (5 missed announcements at the 2 s interval). */
export const PEER_EXPIRY_MS = 10_000
