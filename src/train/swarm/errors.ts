// Named errors of the swarm runtime: code and tests check `err.name`, never the message.

export class SwarmError extends Error {
  override name = 'SwarmError'
}

/** A tensor arrived before this tab was training, or after it left. */
export class NotReadyError extends SwarmError {
  override name = 'NotReadyError'
}

/** Activations computed with weights more than the allowed staleness behind this replica's. */
export class StaleError extends SwarmError {
  override name = 'StaleError'
}

/** A tensor with a dtype the stage does not take. */
export class DTypeError extends SwarmError {
  override name = 'DTypeError'
}

/** A hop receipt that does not match the tensor it came with (or no receipt at all). */
export class ReceiptMismatchError extends SwarmError {
  override name = 'ReceiptMismatchError'
}

/** No replica of the next stage took the tensor. */
export class NoReplicaError extends SwarmError {
  override name = 'NoReplicaError'
}

/** The runtime stopped (left or failed) while a job waited. */
export class StoppedError extends SwarmError {
  override name = 'StoppedError'
}

/** Activations of a microbatch this stage already holds from another sender (a straggler's backup copy): try another replica. */
export class DuplicateError extends SwarmError {
  override name = 'DuplicateError'
}
