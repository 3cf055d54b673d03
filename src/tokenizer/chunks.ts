// Tokenizing a large text in pieces, for progress and for yielding to the event loop, without
// changing a single id. GPT-2's pre-tokenizer regex never joins across a newline that sits
// between two non-space characters ("a\nB" is always "a", "\n", "B"), so cutting right after such
// a newline gives exactly the ids of the whole text (tested against the whole-text encoding).
import type { Tokenizer } from './tokenizer.ts'

/** About 256 KiB of text per piece: ~60k GPT-2 tokens, tens of milliseconds. */
export const CHUNK_CHARS = 256 * 1024

const SPACE = /\s/

/** Cut points (exclusive ends) such that encoding the pieces equals encoding the whole. */
export function safeCuts (text: string, chunkChars = CHUNK_CHARS): number[] {
  const cuts: number[] = []
  let start = 0
  while (text.length - start > chunkChars) {
    let cut = -1
    for (let i = text.indexOf('\n', start + chunkChars); i !== -1 && i + 1 < text.length; i = text.indexOf('\n', i + 1)) {
      if (i > start && !SPACE.test(text[i - 1]) && !SPACE.test(text[i + 1])) { cut = i + 1; break }
    }
    if (cut === -1) break
    cuts.push(cut)
    start = cut
  }
  cuts.push(text.length)
  return cuts
}

export interface EncodeProgress {
  /** characters encoded so far */
  done: number
  total: number
  tokens: number
}

/** Encodes `text` piece by piece, reporting progress after each; `yieldEvery` awaits between pieces. */
export async function encodeWithProgress (tok: Tokenizer, text: string, opts: { onProgress?: (p: EncodeProgress) => void, signal?: AbortSignal, chunkChars?: number } = {}): Promise<Uint32Array> {
  const parts: Uint32Array[] = []
  let start = 0
  let tokens = 0
  for (const end of safeCuts(text, opts.chunkChars)) {
    opts.signal?.throwIfAborted()
    const ids = tok.encode(text.slice(start, end))
    parts.push(ids)
    tokens += ids.length
    start = end
    opts.onProgress?.({ done: end, total: text.length, tokens })
    await new Promise(resolve => setTimeout(resolve, 0))
  }
  const out = new Uint32Array(tokens)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}
