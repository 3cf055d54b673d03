// Documents → one token stream, as nanoGPT and llm.c build GPT-2 corpora: each document is
// preceded by <|endoftext|> so the model learns where one ends and the next begins (byte
// tokenizers have no such id and simply concatenate).
import { encodeWithProgress } from '../tokenizer/chunks.ts'
import type { Tokenizer } from '../tokenizer/tokenizer.ts'

export interface CorpusProgress {
  /** characters tokenized so far, over all documents */
  done: number
  total: number
  tokens: number
}

export async function tokenizeDocuments (tok: Tokenizer, docs: string[], opts: { onProgress?: (p: CorpusProgress) => void, signal?: AbortSignal } = {}): Promise<Uint32Array> {
  const total = docs.reduce((s, d) => s + d.length, 0)
  const parts: Uint32Array[] = []
  let before = 0
  let tokens = 0
  for (const doc of docs) {
    if (tok.eot != null) { parts.push(Uint32Array.of(tok.eot)); tokens++ }
    const base = tokens
    const ids = await encodeWithProgress(tok, doc, {
      signal: opts.signal,
      onProgress: p => opts.onProgress?.({ done: before + p.done, total, tokens: base + p.tokens })
    })
    parts.push(ids)
    tokens += ids.length
    before += doc.length
  }
  const out = new Uint32Array(tokens)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}
