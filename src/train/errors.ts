// Errors of the training area. Code and tests check `err.name`, never the message text.

export class TrainError extends Error {
  override name = 'TrainError'
}

/** A dataset that can't feed the run: too short for one window, odd byte count for uint16, bad token. */
export class DataError extends TrainError {
  override name = 'DataError'
}

/** Hyper-parameters that can't describe a run (negative lr, warmup past the end, …). */
export class TrainConfigError extends TrainError {
  override name = 'TrainConfigError'
}
