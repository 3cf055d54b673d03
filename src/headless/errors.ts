// What stops a headless volunteer before it trains: each is one line on stderr and exit code 2
// (main.ts), so a script or a service manager can tell a bad setup from a crash (exit 1).

export class SetupError extends Error {
  override name = 'SetupError'
}

/** A command line the volunteer does not understand (unknown flag, bad value). */
export class UsageError extends SetupError {
  override name = 'UsageError'
}

/** Two options that exclude each other: main.ts prints the usage after the line. */
export class ConflictingOptionsError extends UsageError {
  override name = 'ConflictingOptionsError'
}

/** The campaign link is not `<origin>/#/c/<32 hex>`. */
export class BadLinkError extends SetupError {
  override name = 'BadLinkError'
}

/** The tracker did not answer, or answered something that is not this campaign. */
export class TrackerUnreachableError extends SetupError {
  override name = 'TrackerUnreachableError'
}

/** The campaign's manifest is missing, malformed, or does not hash to the link's id. */
export class BadCampaignError extends SetupError {
  override name = 'BadCampaignError'
}

/** `--address`: the pasted signature is malformed, missing, or signed by another address. */
export class BadSignatureError extends SetupError {
  override name = 'BadSignatureError'
}

/** The volunteer's libp2p key file or the wallet key file cannot be used. */
export class BadKeyFileError extends SetupError {
  override name = 'BadKeyFileError'
}
