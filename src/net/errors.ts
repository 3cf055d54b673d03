// Errors of the network layer. Code and tests check `err.name`.

export class NetError extends Error {
  override name = 'NetError'
}

/** A frame or payload larger than the protocol allows, refused before allocation. */
export class OversizedError extends NetError {
  override name = 'OversizedError'
}

/** Bytes that don't parse as the protocol's frames. */
export class MalformedFrameError extends NetError {
  override name = 'MalformedFrameError'
}

/** The payload's digest differs from the one its header promised. */
export class DigestMismatchError extends NetError {
  override name = 'DigestMismatchError'
}

/** The stream ended before the message was complete. */
export class TruncatedError extends NetError {
  override name = 'TruncatedError'
}

/** No direct (non-relayed) connection could be made to a peer. */
export class NoDirectConnectionError extends NetError {
  override name = 'NoDirectConnectionError'
}
