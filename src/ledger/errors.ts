// Errors of receipts, the hash-chained ledger and Merkle proofs. Code and tests check `err.name`.

export class LedgerError extends Error {
  override name = 'LedgerError'
  readonly status: number = 400
}

/** A receipt or ledger entry without the fields and types it must have. */
export class MalformedReceiptError extends LedgerError {
  override name = 'MalformedReceiptError'
}

export class MalformedEntryError extends LedgerError {
  override name = 'MalformedEntryError'
}

/** A receipt signature missing, not by the named peer, or over other bytes. */
export class ReceiptSignatureError extends LedgerError {
  override name = 'ReceiptSignatureError'
  override readonly status = 401
}

/** The signing key is not the PeerId the receipt names for that side. */
export class WrongSignerError extends LedgerError {
  override name = 'WrongSignerError'
}

/**
 * The ledger file does not verify: a committed line was edited, deleted or reordered. The
 * tracker refuses to open it (a human must look); `line` is the first bad one, 1-based.
 */
export class LedgerTamperedError extends LedgerError {
  override name = 'LedgerTamperedError'
  override readonly status = 500
  constructor (readonly line: number, readonly reason: string, path = 'ledger') {
    super(`${path}:${line}: ${reason}`)
  }
}

/** The ledger already credits this microbatch: a second entry would be double credit. */
export class DuplicateEntryError extends LedgerError {
  override name = 'DuplicateEntryError'
  override readonly status = 409
  constructor (readonly microbatch: number, readonly index?: number) {
    super(`microbatch ${microbatch} is already credited${index != null ? ` (ledger entry ${index})` : ''}`)
  }
}

/** No such entry or epoch. */
export class LedgerRangeError extends LedgerError {
  override name = 'LedgerRangeError'
  override readonly status = 404
}
