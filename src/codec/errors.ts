// Errors of the boundary codecs. Code and tests check `err.name`.

/** Input a codec refuses: a payload of the wrong length, a non-finite or negative scale, an unknown codec. */
export class CodecError extends Error {
  override name = 'CodecError'
}
