// Errors of sign-in and identity binding. Each maps to one 4xx with a one-line message
// (`status`); code and tests check `err.name`, never the message text.

export class IdentityError extends Error {
  override name = 'IdentityError'
  readonly status: number = 400
}

/** Not an EIP-4361 message (or not a string, or too long). */
export class MalformedMessageError extends IdentityError {
  override name = 'MalformedMessageError'
}

/** The nonce was never issued by this tracker, has expired, or was already used. */
export class InvalidNonceError extends IdentityError {
  override name = 'InvalidNonceError'
  override readonly status = 401
}

/** `Expiration Time` has passed. */
export class ExpiredMessageError extends IdentityError {
  override name = 'ExpiredMessageError'
  override readonly status = 401
}

/** `Not Before` (or `Issued At`, beyond clock skew) is in the future. */
export class NotYetValidMessageError extends IdentityError {
  override name = 'NotYetValidMessageError'
  override readonly status = 401
}

/** The message names another site: it was signed for someone else (phishing guard). */
export class DomainMismatchError extends IdentityError {
  override name = 'DomainMismatchError'
  override readonly status = 401
}

/** The wallet signature is unreadable or recovers to another address than the message's. */
export class BadSignatureError extends IdentityError {
  override name = 'BadSignatureError'
  override readonly status = 401
}

/** No `libp2p:<peerId>` resource, too many, a repeated one, or one that is not an Ed25519 PeerId. */
export class MissingPeerResourceError extends IdentityError {
  override name = 'MissingPeerResourceError'
}

/** No peer signature was sent, or not one per named PeerId. */
export class MissingPeerSignatureError extends IdentityError {
  override name = 'MissingPeerSignatureError'
}

/** `peerSignature` is not the PeerId key's Ed25519 signature of the message. */
export class BadPeerSignatureError extends IdentityError {
  override name = 'BadPeerSignatureError'
  override readonly status = 401
}

/** Not an Ethereum address. */
export class InvalidAddressError extends IdentityError {
  override name = 'InvalidAddressError'
}

/** The PeerId is already bound to another address (first binding wins; see bindings.ts). */
export class PeerAlreadyBoundError extends IdentityError {
  override name = 'PeerAlreadyBoundError'
  override readonly status = 409
}

/** The address has bound MAX_PEERS_PER_ADDRESS PeerIds already. */
export class TooManyPeersError extends IdentityError {
  override name = 'TooManyPeersError'
  override readonly status = 409
}

/** The binding file is corrupt before its last line (a torn last line is repaired, not this). */
export class BindingsFileError extends IdentityError {
  override name = 'BindingsFileError'
  override readonly status = 500
}

/** No EIP-1193 wallet found, or the user refused a request. */
export class WalletError extends IdentityError {
  override name = 'WalletError'
}
