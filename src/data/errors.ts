// Errors of the dataset area. Code and tests check `err.name`, never the message text.

/** A token file or its sidecar that can't be trained on; `problems` lists every reason found. */
export class TokenFileError extends Error {
  override name = 'TokenFileError'
  readonly problems: string[]

  constructor (problems: string[]) {
    super(problems.join('; '))
    this.problems = problems
  }
}
