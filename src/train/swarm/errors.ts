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

/**
 * A peer's tensor or request was refused by the gate (peer-gate.ts) before it touched state.
 * `violation`: no honest peer sends this (NaN, wrong shape, a step bomb), so the peer is
 * disconnected and reported; otherwise it may be honest lag (a membership list not yet updated).
 */
export class GateError extends SwarmError {
  override name = 'GateError'
  readonly violation: boolean = false
}

/** The sender is not listed by the tracker on the adjacent stage (or not on this stage, for weights). */
export class UnlistedPeerError extends GateError {
  override name = 'UnlistedPeerError'
}

/** Gradients for a microbatch this tab never sent to that peer. */
export class UnsolicitedError extends GateError {
  override name = 'UnsolicitedError'
}

/** A peer this tab disconnected for a violation: nothing more is taken from it. */
export class BannedPeerError extends GateError {
  override name = 'BannedPeerError'
}

/** An optimizer step ahead of what the tracker announced, within reach of honest lag. */
export class StepAheadError extends GateError {
  override name = 'StepAheadError'
}

/** An optimizer step far beyond the tracker's (a step bomb). */
export class StepBombError extends GateError {
  override name = 'StepBombError'
  override readonly violation = true
}

/** A tensor whose shape or length is not the stage's (B, T, C). */
export class ShapeError extends GateError {
  override name = 'ShapeError'
  override readonly violation = true
}

/** NaN or ±Inf in a tensor or in weights. */
export class NonFiniteError extends GateError {
  override name = 'NonFiniteError'
  override readonly violation = true
}
