import { describe, expect, it } from 'vitest'
import { GPT2_EOT, loadTokenizer, TOKENIZER_VOCAB } from './tokenizer.ts'
import { encodeWithProgress, safeCuts } from './chunks.ts'
import { GPT2_CASES, GPT2_EOT_CASE } from './fixtures/gpt2-ids.ts'

const gpt2 = await loadTokenizer('gpt2')

describe('gpt2 tokenizer', () => {
  it.each(GPT2_CASES.map(c => [JSON.stringify(c.text).slice(0, 40), c] as const))('matches the reference ids for %s', (_, c) => {
    expect(Array.from(gpt2.encode(c.text))).toEqual(c.ids)
    expect(gpt2.decode(c.ids)).toBe(c.text)
  })

  it('has GPT-2\'s vocabulary and end-of-text id', () => {
    expect(gpt2.vocab).toBe(TOKENIZER_VOCAB.gpt2)
    expect(gpt2.eot).toBe(GPT2_EOT)
    expect(Array.from(gpt2.encode(GPT2_EOT_CASE.textBeforeEot)).concat(GPT2_EOT)).toEqual(GPT2_EOT_CASE.ids)
    expect(gpt2.decode([GPT2_EOT])).toBe('<|endoftext|>')
  })

  it('encodes special-token text as ordinary text, never as the special id', () => {
    const ids = Array.from(gpt2.encode('a<|endoftext|>b'))
    expect(ids).not.toContain(GPT2_EOT)
    expect(gpt2.decode(ids)).toBe('a<|endoftext|>b')
  })

  it.each([
    ['unicode', 'Ünïcödé — 日本語, Ελληνικά, עברית, emoji 👩‍👩‍👧 and 🇺🇸, combining e\u0301'],
    ['whitespace runs', 'a  b   c\t\t d\n\n\n e \r\n  \u00a0\u2003 end   '],
    ['special characters', '<|endoftext|> \\ " \' ` ~ \u0000 \u001c \u007f \ufeff \ufffd'],
    ['repetition', '^'.repeat(1000) + ' ' + '\n'.repeat(1000)]
  ])('round-trips %s', (_, text) => {
    expect(gpt2.decode(gpt2.encode(text))).toBe(text)
  })

  it('encodes piece by piece to exactly the whole-text ids', async () => {
    const para = 'The Congress shall have power.\nIt\'s   the  people\'s 1790 address:\n\n  indented line\n\t\nÜber naïve café.\n'
    const text = para.repeat(400)
    const cuts = safeCuts(text, 1000)
    expect(cuts.length).toBeGreaterThan(10)
    const seen: number[] = []
    const pieces = await encodeWithProgress(gpt2, text, { chunkChars: 1000, onProgress: p => seen.push(p.done) })
    expect(Array.from(pieces)).toEqual(Array.from(gpt2.encode(text)))
    expect(seen.at(-1)).toBe(text.length)
  })
})

describe('bytes tokenizer', () => {
  it('uses UTF-8 bytes as ids and round-trips', async () => {
    const bytes = await loadTokenizer('bytes')
    expect(Array.from(bytes.encode('hé'))).toEqual([0x68, 0xc3, 0xa9])
    expect(bytes.decode(bytes.encode('日本 👋'))).toBe('日本 👋')
    expect(bytes.vocab).toBe(256)
  })

  it('refuses an unknown name with a named error', async () => {
    await expect(loadTokenizer('gpt5')).rejects.toMatchObject({ name: 'TokenizerError' })
  })
})
