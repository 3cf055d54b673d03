// Tracker limits. Each says where its value came from.

/** JSON bodies are manifests and SIWE messages: a few KiB. 1 MiB leaves room and bounds memory per request. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024

/** Request bodies must arrive within this time (slowloris guard). */
export const BODY_TIMEOUT_MS = 10_000

/** Default HTTP port, per docs/design.md (`npm start` serves http://127.0.0.1:8080). */
export const DEFAULT_PORT = 8080
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_DATA_DIR = './.tabgrad'

/** The relay listens for WebSockets on HTTP port + this offset unless RELAY_PORT is set. */
export const RELAY_PORT_OFFSET = 1

// ---- relay limits: what one relay holds
// Relayed (circuit) connections carry WebRTC signalling only: an SDP offer/answer and a few ICE
// candidates, a few KiB (libp2p caps relayed connections by default). Tensors never cross it.

/** One reservation per tab; the libp2p default (15) would cap a swarm at 15 tabs. */
export const MAX_RELAY_RESERVATIONS = 1024

/** Tab WebSocket connections plus headroom for tabs reconnecting while their old socket times out. */
export const MAX_RELAY_CONNECTIONS = 1200

/** A reservation lasts this long unless the tab leaves first (then it is dropped at once). libp2p default: 2 h. */
export const RELAY_RESERVATION_TTL_MS = 30 * 60_000

/** A circuit lives at most this long: long enough for ICE over TURN (seconds), short enough to free slots. */
export const RELAY_CIRCUIT_DURATION_MS = 2 * 60_000

/** Bytes one circuit may carry: signalling is ~10 KiB (SDP + candidates); 128 KiB is libp2p's default. */
export const RELAY_CIRCUIT_DATA_BYTES = 128n * 1024n

/** A hop request must be answered within this time (libp2p default 30 s; tabs retry sooner). */
export const RELAY_HOP_TIMEOUT_MS = 15_000

/** Concurrent hop streams per connection: a tab dials a handful of peers at once. libp2p default 32. */
export const RELAY_MAX_HOP_STREAMS = 64

/**
 * TURN credentials handed to tabs live this long. coturn's REST scheme (draft-uberti-behave-turn-rest)
 * suggests about a day; 6 h bounds a leaked credential, outlives most training sessions (coturn
 * checks the expiry again when an allocation is refreshed), and tabs fetch new ones before expiry.
 */
export const TURN_CREDENTIAL_TTL_S = 6 * 3600

/** Campaigns one tracker keeps (creation is open to anyone): each holds a coordinator and a ledger in memory. */
export const MAX_CAMPAIGNS = 10_000

/** Idle keep-alive connections stay open this long: longer than a proxy's upstream idle timeout (Caddy 2 min, nginx 60 s default). */
export const KEEP_ALIVE_TIMEOUT_MS = 130_000

/** Tab connections mid-handshake (noise + yamux) at once: a tracker restart brings every tab back within seconds. libp2p default 10. */
export const RELAY_MAX_PENDING_UPGRADES = 256
