// Token-bucket rate limits per key (an identity, a client address): `burst` requests at once,
// then one every `everyMs`. Buckets live in a BoundedMap, so a flood of fresh keys evicts the
// oldest buckets instead of growing memory (an evicted key starts again with a full bucket,
// which is why doors also cap what an identity can own in total: see auth/quotas.ts).
import { BoundedMap } from './bounded-map.ts'

export interface RateLimitInit {
  /** Requests allowed back to back. */
  burst: number
  /** One more request is allowed every this many ms. */
  everyMs: number
  /**
   * Keys tracked at once.
   * @default 10_000
   */
  maxKeys?: number
  /** @default Date.now */
  now?: () => number
}

export interface RateLimit {
  /** Takes one token; returns 0 if allowed, else the ms until the next token. */
  take(key: string): number
}

export function createRateLimit (init: RateLimitInit): RateLimit {
  const now = init.now ?? Date.now
  const buckets = new BoundedMap<string, { tokens: number, at: number }>(init.maxKeys ?? 10_000)
  return {
    take (key) {
      const t = now()
      const b = buckets.get(key) ?? { tokens: init.burst, at: t }
      const tokens = Math.min(init.burst, b.tokens + (t - b.at) / init.everyMs)
      if (tokens < 1) {
        buckets.set(key, { tokens, at: t })
        return Math.ceil((1 - tokens) * init.everyMs)
      }
      buckets.set(key, { tokens: tokens - 1, at: t })
      return 0
    }
  }
}
