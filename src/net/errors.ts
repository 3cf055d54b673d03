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

/** The receiver refused a tensor. `reason` is the `name` of the receiver's error (e.g. 'DigestMismatchError'). */
export class NackError extends NetError {
  override name = 'NackError'
  readonly reason: string
  constructor (reason: string, message: string) {
    super(`peer refused the tensor: ${reason}: ${message}`)
    this.reason = reason
  }
}

/** A tensor header that names another campaign than the receiver's. */
export class WrongCampaignError extends NetError {
  override name = 'WrongCampaignError'
}

/** A network operation ran out of time (an ack that never came, a message that stalled). */
export class TimeoutError extends NetError {
  override name = 'TimeoutError'
}

/** The receiver has no room for a tensor right now; the sender should try another replica. */
export class BusyError extends NetError {
  override name = 'BusyError'
}
