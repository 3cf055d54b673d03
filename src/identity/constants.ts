// Identity limits. Each says where its value came from.

/**
 * A sign-in nonce lives 5 minutes: long enough for a wallet pop-up and a hesitant user, short
 * enough that a leaked unused nonce is soon worthless (EIP-4361 leaves the lifetime to the server).
 */
export const NONCE_TTL_MS = 5 * 60_000

/** Outstanding nonces kept at most; past this the oldest is dropped (bounds tracker memory). */
export const MAX_NONCES = 10_000

/** The SIWE message's own `Expiration Time` is set this far after `Issued At` (same as the nonce). */
export const MESSAGE_TTL_MS = NONCE_TTL_MS

/** Allowed clock difference between a tab and the tracker when checking `Issued At`. */
export const CLOCK_SKEW_MS = 60_000

/** A SIWE message with one resource is ~600 bytes; 4 KiB bounds parsing work per request. */
export const MAX_SIWE_MESSAGE_BYTES = 4096

/** An EIP-191 signature is 65 bytes = 132 hex chars with 0x; an Ed25519 one is 88 base64 chars. */
export const MAX_SIGNATURE_CHARS = 256

/** Tabs (PeerIds) one address may bind: a person with many browsers, not an unbounded list. */
export const MAX_PEERS_PER_ADDRESS = 256

/** Prefix of the SIWE resource naming the tab's PeerId (DESIGN.md: `libp2p:<peerId>`). */
export const PEER_RESOURCE_PREFIX = 'libp2p:'

/** Most PeerIds one sign-in may bind (a browser's tabs): keeps a message under MAX_SIWE_MESSAGE_BYTES. */
export const MAX_PEERS_PER_SIGN_IN = 16

/** Wallets answer `eip6963:requestProvider` synchronously in practice; wait a little for slow ones. */
export const WALLET_DISCOVERY_MS = 500
