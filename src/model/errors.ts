// Errors of the model area. Code and tests check `err.name`, never the message text.

export class ModelError extends Error {
  override name = 'ModelError'
}

/** A GPTConfig, preset or stage split that can't describe a model. */
export class ConfigError extends ModelError {
  override name = 'ConfigError'
}

/** Inputs to a forward/backward that don't fit the stage (wrong length, T > n_ctx, token ≥ vocab). */
export class ModelInputError extends ModelError {
  override name = 'ModelInputError'
}

/** A safetensors file that is not well formed: truncated, bad header JSON, offsets out of range or overlapping. */
export class CheckpointFormatError extends ModelError {
  override name = 'CheckpointFormatError'
}

/** A well-formed tensor with a dtype we don't read (only F32). */
export class CheckpointDTypeError extends ModelError {
  override name = 'CheckpointDTypeError'
}

/** Tensor names or shapes that don't match the stage: missing, unexpected or wrongly shaped. */
export class CheckpointTensorError extends ModelError {
  override name = 'CheckpointTensorError'
}

/** The file's config or stage range differs from the one expected, or is missing or unreadable. */
export class CheckpointConfigError extends ModelError {
  override name = 'CheckpointConfigError'
}
