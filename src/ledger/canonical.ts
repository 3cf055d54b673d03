// Canonical bytes for hashing and signing, the same in the browser and in Node.
import { sha256 } from 'ethers'

/**
 * JSON with object keys sorted (recursively) and no whitespace. Keys whose value is undefined
 * are left out, as JSON.stringify does; non-finite numbers and non-plain values are refused,
 * because two parties must produce the very same bytes.
 */
export function canonicalJson (value: unknown): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value)
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('canonicalJson: non-finite number')
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']'
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const obj = value as Record<string, unknown>
    const keys = Object.keys(obj).filter(k => obj[k] !== undefined).sort()
    return '{' + keys.map(k => JSON.stringify(k) + ':' + canonicalJson(obj[k])).join(',') + '}'
  }
  throw new TypeError(`canonicalJson: cannot encode ${typeof value}`)
}

/** UTF-8 of a domain tag followed by the canonical JSON of the value. */
export function taggedBytes (tag: string, value: unknown): Uint8Array {
  return new TextEncoder().encode(tag + canonicalJson(value))
}

/** SHA-256 as 64 lower-case hex characters (no 0x). */
export function sha256Hex (data: Uint8Array): string {
  return sha256(data).slice(2)
}
