// The campaign's tokenizer, named in the manifest: `bytes` (UTF-8 bytes are tokens, vocab 256) or
// `gpt2` (OpenAI's r50k BPE, 50257 tokens, ids identical to GPT-2's). The app, the tracker and the
// CLI all load tokenizers through this one module, so they can never disagree on an id.

export const TOKENIZER_NAMES = ['bytes', 'gpt2'] as const
export type TokenizerName = typeof TOKENIZER_NAMES[number]

/** Vocabulary sizes, known without loading the BPE ranks (the form and the validator need them). */
export const TOKENIZER_VOCAB: Record<TokenizerName, number> = { bytes: 256, gpt2: 50257 }

/** GPT-2's `<|endoftext|>`: separates documents in a corpus (nanoGPT and llm.c do the same). */
export const GPT2_EOT = 50256

export interface Tokenizer {
  readonly name: TokenizerName
  /** ids are < vocab */
  readonly vocab: number
  /** the document separator id, or null (bytes has none) */
  readonly eot: number | null
  /** Text → ids. Special-token text such as `<|endoftext|>` is encoded as ordinary text, never as the special id. */
  encode: (text: string) => Uint32Array
  /** ids → text; byte sequences that are not valid UTF-8 decode to U+FFFD */
  decode: (ids: ArrayLike<number>) => string
}

export class TokenizerError extends Error {
  override name = 'TokenizerError'
}

export function isTokenizerName (v: unknown): v is TokenizerName {
  return typeof v === 'string' && (TOKENIZER_NAMES as readonly string[]).includes(v)
}

const bytesTokenizer: Tokenizer = {
  name: 'bytes',
  vocab: 256,
  eot: null,
  encode: text => Uint32Array.from(new TextEncoder().encode(text)),
  decode: ids => new TextDecoder().decode(Uint8Array.from(ids as ArrayLike<number>))
}

const cache = new Map<TokenizerName, Promise<Tokenizer>>()

/** Loads a tokenizer; gpt2's ranks (≈0.5 MB of script) are imported on first use only. */
export async function loadTokenizer (name: string): Promise<Tokenizer> {
  if (!isTokenizerName(name)) throw new TokenizerError(`unknown tokenizer "${name}" (one of ${TOKENIZER_NAMES.join(', ')})`)
  if (name === 'bytes') return bytesTokenizer
  let t = cache.get(name)
  if (t == null) {
    t = import('./gpt2.ts').then(m => m.createGpt2Tokenizer())
    cache.set(name, t)
  }
  return await t
}
