// GPT-2's byte-level BPE through js-tiktoken (the JavaScript port of OpenAI's tiktoken) with the
// r50k_base ranks: the same merges and ids as GPT-2's encoder.json / vocab.bpe.
import { Tiktoken } from 'js-tiktoken/lite'
import r50kBase from 'js-tiktoken/ranks/r50k_base'
import { GPT2_EOT, type Tokenizer } from './tokenizer.ts'

export function createGpt2Tokenizer (): Tokenizer {
  const enc = new Tiktoken(r50kBase)
  return {
    name: 'gpt2',
    vocab: 50257,
    eot: GPT2_EOT,
    // allowedSpecial [] and disallowedSpecial []: "<|endoftext|>" in a corpus is plain text
    // (tiktoken's encode_ordinary), so uploaded text can never inject a document boundary.
    encode: text => Uint32Array.from(enc.encode(text, [], [])),
    decode: ids => enc.decode(Array.from(ids))
  }
}
