// Tracker limits. Each says where its value came from.

/** JSON bodies are manifests and SIWE messages: a few KiB. 1 MiB leaves room and bounds memory per request. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024

/** Request bodies must arrive within this time (slowloris guard). */
export const BODY_TIMEOUT_MS = 10_000

/** Default HTTP port, per DESIGN.md (`npm start` serves http://127.0.0.1:8080). */
export const DEFAULT_PORT = 8080
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_DATA_DIR = './.tabgrad'

/** The relay listens for WebSockets on HTTP port + this offset unless RELAY_PORT is set. */
export const RELAY_PORT_OFFSET = 1

/**
 * Relayed connections carry signalling only (ENVIRONMENT.md: relayed connections are capped).
 * A tab needs one reservation; the defaults (15) would cap a swarm at 15 tabs.
 */
export const MAX_RELAY_RESERVATIONS = 512
