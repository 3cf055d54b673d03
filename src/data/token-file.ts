// The token file format: nanoGPT's `.bin` (uint16 little-endian ids, nothing else, so nanoGPT and
// llm.c tooling read it as is) plus a JSON sidecar `<file>.bin.json` that says which tokenizer made
// it, how many tokens it holds, its sha256, and how many tokens at its end are held out for
// validation. Works in browsers and Node (WebCrypto only).
import { isTokenizerName, TOKENIZER_VOCAB, type TokenizerName } from '../tokenizer/tokenizer.ts'
import { TokenFileError } from './errors.ts'

export const TOKEN_FILE_FORMAT = 'tabgrad-tokens'

export interface TokenFileMeta {
  format: typeof TOKEN_FILE_FORMAT
  version: 1
  tokenizer: TokenizerName
  /** every id is < vocab */
  vocab: number
  /** ids in the .bin (its byte length / 2) */
  tokens: number
  /** the last `validation_tokens` ids are the held-out validation split */
  validation_tokens: number
  /** of the .bin's bytes, lowercase hex */
  sha256: string
  /** where the text came from, for people */
  source?: string
}

/** Held out by default: 2 % of the tokens (nanoGPT holds out 10 % of Shakespeare, 0.05 % of OpenWebText). */
export const DEFAULT_VALIDATION_FRACTION = 0.02

export function defaultValidationTokens (tokens: number): number {
  return Math.floor(tokens * DEFAULT_VALIDATION_FRACTION)
}

export async function sha256Hex (bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))
  return [...d].map(b => b.toString(16).padStart(2, '0')).join('')
}

/** ids → the .bin bytes; ids must fit uint16. */
export function encodeTokenFile (ids: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(2 * ids.length)
  const dv = new DataView(out.buffer)
  for (let i = 0; i < ids.length; i++) {
    const t = ids[i]
    if (!Number.isInteger(t) || t < 0 || t > 0xffff) throw new TokenFileError([`token ${t} at ${i} does not fit in uint16`])
    dv.setUint16(2 * i, t, true)
  }
  return out
}

/** Writes a token file: the .bin bytes and its sidecar. */
export async function makeTokenFile (ids: ArrayLike<number>, init: { tokenizer: TokenizerName, validationTokens?: number, source?: string }): Promise<{ bin: Uint8Array, meta: TokenFileMeta }> {
  const bin = encodeTokenFile(ids)
  const meta: TokenFileMeta = {
    format: TOKEN_FILE_FORMAT,
    version: 1,
    tokenizer: init.tokenizer,
    vocab: TOKENIZER_VOCAB[init.tokenizer],
    tokens: ids.length,
    validation_tokens: init.validationTokens ?? defaultValidationTokens(ids.length),
    sha256: await sha256Hex(bin),
    ...(init.source != null ? { source: init.source } : {})
  }
  return { bin, meta: parseTokenFileMeta(meta) }
}

/** Checks an untrusted sidecar; every problem is listed. */
export function parseTokenFileMeta (value: unknown): TokenFileMeta {
  const problems: string[] = []
  if (typeof value !== 'object' || value == null || Array.isArray(value)) throw new TokenFileError(['the sidecar must be a JSON object'])
  const v = value as Record<string, unknown>
  const int = (k: string, min: number): number => {
    const x = v[k]
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) { problems.push(`${k} must be an integer ≥ ${min}, got ${JSON.stringify(x)}`); return NaN }
    return x
  }
  if (v.format !== TOKEN_FILE_FORMAT) problems.push(`format must be "${TOKEN_FILE_FORMAT}", got ${JSON.stringify(v.format)}`)
  if (v.version !== 1) problems.push(`version must be 1, got ${JSON.stringify(v.version)}`)
  const tokenizer = v.tokenizer
  if (!isTokenizerName(tokenizer)) problems.push(`tokenizer must be one of ${Object.keys(TOKENIZER_VOCAB).join(', ')}, got ${JSON.stringify(tokenizer)}`)
  const vocab = int('vocab', 2)
  if (isTokenizerName(tokenizer) && vocab !== TOKENIZER_VOCAB[tokenizer]) problems.push(`vocab ${vocab} is not the ${tokenizer} tokenizer's ${TOKENIZER_VOCAB[tokenizer]}`)
  if (vocab > 65536) problems.push(`vocab ${vocab} does not fit uint16 ids`)
  const tokens = int('tokens', 1)
  const validation = int('validation_tokens', 0)
  if (validation >= tokens) problems.push(`validation_tokens (${validation}) must leave training tokens (the file has ${tokens})`)
  if (typeof v.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(v.sha256)) problems.push('sha256 must be 64 lowercase hex digits')
  if (v.source != null && (typeof v.source !== 'string' || v.source.length > 500)) problems.push('source must be text of at most 500 characters')
  for (const k of Object.keys(v)) if (!['format', 'version', 'tokenizer', 'vocab', 'tokens', 'validation_tokens', 'sha256', 'source'].includes(k)) problems.push(`unknown field "${k}"`)
  if (problems.length > 0) throw new TokenFileError(problems)
  return v as unknown as TokenFileMeta
}

/** Checks the .bin against its sidecar (size, sha256, every id < vocab) and decodes it. */
export async function readTokenFile (bin: Uint8Array, meta: TokenFileMeta): Promise<Uint32Array> {
  const problems: string[] = []
  if (bin.byteLength !== 2 * meta.tokens) problems.push(`the file has ${bin.byteLength} bytes, the sidecar's ${meta.tokens} tokens need ${2 * meta.tokens}`)
  const digest = await sha256Hex(bin)
  if (digest !== meta.sha256) problems.push(`sha256 is ${digest}, the sidecar says ${meta.sha256}`)
  if (problems.length > 0) throw new TokenFileError(problems)
  return decodeIds(bin, meta.vocab)
}

/** uint16 LE → ids, refusing any id ≥ vocab (with the first offender's position and the count). */
export function decodeIds (bin: Uint8Array, vocab: number): Uint32Array {
  if (bin.byteLength % 2 !== 0) throw new TokenFileError([`a uint16 token file needs an even byte count, got ${bin.byteLength}`])
  const dv = new DataView(bin.buffer, bin.byteOffset, bin.byteLength)
  const out = new Uint32Array(bin.byteLength / 2)
  let bad = 0
  let first = -1
  for (let i = 0; i < out.length; i++) {
    const t = dv.getUint16(2 * i, true)
    if (t >= vocab) { bad++; if (first < 0) first = i }
    out[i] = t
  }
  if (bad > 0) throw new TokenFileError([`${bad} token ids are ≥ the vocabulary (${vocab}), the first is ${out[first]} at token ${first}`])
  return out
}

/** The training part and the held-out validation part (the last `validationTokens` ids): views, not copies. */
export function splitValidation (tokens: Uint32Array, validationTokens: number): { train: Uint32Array, validation: Uint32Array } {
  if (!Number.isInteger(validationTokens) || validationTokens < 0 || validationTokens >= tokens.length) {
    throw new TokenFileError([`validation_tokens ${validationTokens} must be in [0, ${tokens.length})`])
  }
  const cut = tokens.length - validationTokens
  return { train: tokens.subarray(0, cut), validation: tokens.subarray(cut) }
}
