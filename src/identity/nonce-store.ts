// Single-use, expiring sign-in nonces held by the tracker (EIP-4361 §"Nonce": replay protection).
import { generateNonce } from 'siwe'
import { MAX_NONCES, NONCE_TTL_MS } from './constants.ts'

export interface NonceStoreInit {
  /**
   * Lifetime of an issued nonce.
   * @default NONCE_TTL_MS
   */
  ttlMs?: number
  /**
   * Outstanding nonces kept at most; issuing past this drops the oldest.
   * @default MAX_NONCES
   */
  maxNonces?: number
  /**
   * Clock, in ms (tests pass a fake one).
   * @default Date.now
   */
  now?: () => number
}

export interface NonceStore {
  /** A fresh nonce: 96 random bits, alphanumeric (as EIP-4361 requires, ≥ 8 chars). */
  issue(): string
  /** Whether the nonce was issued, is unexpired and unused. Does not use it up. */
  has(nonce: string): boolean
  /** Uses the nonce up; true only the first time, and only while it is valid. */
  consume(nonce: string): boolean
  /** Outstanding nonces (expired ones may still count until the next issue). */
  readonly size: number
}

export function createNonceStore (init: NonceStoreInit = {}): NonceStore {
  const ttlMs = init.ttlMs ?? NONCE_TTL_MS
  const maxNonces = init.maxNonces ?? MAX_NONCES
  const now = init.now ?? Date.now
  // Map keeps insertion order, so the first key is always the oldest.
  const expiry = new Map<string, number>()

  const prune = (t: number): void => {
    for (const [nonce, until] of expiry) {
      if (until > t && expiry.size < maxNonces) break
      expiry.delete(nonce)
    }
  }

  return {
    issue () {
      const t = now()
      prune(t)
      const nonce = generateNonce()
      expiry.set(nonce, t + ttlMs)
      return nonce
    },
    has (nonce) {
      const until = expiry.get(nonce)
      return until !== undefined && until > now()
    },
    consume (nonce) {
      const ok = this.has(nonce)
      expiry.delete(nonce)
      return ok
    },
    get size () { return expiry.size }
  }
}
