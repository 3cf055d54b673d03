import { describe, expect, it } from 'vitest'
import { decodeIds, makeTokenFile, parseTokenFileMeta, readTokenFile, splitValidation } from './token-file.ts'

const ids = Uint32Array.from({ length: 1000 }, (_, i) => (i * 7919) % 50257)

describe('token files', () => {
  it('round-trips ids through the .bin and its sidecar', async () => {
    const { bin, meta } = await makeTokenFile(ids, { tokenizer: 'gpt2', validationTokens: 100 })
    expect(bin.byteLength).toBe(2000)
    expect(meta).toMatchObject({ tokenizer: 'gpt2', vocab: 50257, tokens: 1000, validation_tokens: 100 })
    const back = await readTokenFile(bin, parseTokenFileMeta(JSON.parse(JSON.stringify(meta))))
    expect(Array.from(back)).toEqual(Array.from(ids))
    const { train, validation } = splitValidation(back, meta.validation_tokens)
    expect(train.length).toBe(900)
    expect(Array.from(validation)).toEqual(Array.from(ids.subarray(900)))
  })

  it('refuses a file whose size and sha256 differ from the sidecar, listing both', async () => {
    const { bin, meta } = await makeTokenFile(ids, { tokenizer: 'gpt2' })
    const err = await readTokenFile(bin.subarray(0, 1998), meta).then(() => null, (e: unknown) => e as { name: string, problems: string[] })
    if (err == null) throw new Error('accepted a truncated file')
    expect(err.name).toBe('TokenFileError')
    expect(err.problems).toHaveLength(2)
    expect(err.problems[0]).toMatch(/1998 bytes.*need 2000/)
    expect(err.problems[1]).toMatch(/sha256/)
    const flipped = bin.slice(); flipped[10] ^= 1
    await expect(readTokenFile(flipped, meta)).rejects.toThrow(/sha256 is [0-9a-f]{64}, the sidecar says/)
  })

  it('refuses ids outside the vocabulary', async () => {
    const { bin } = await makeTokenFile([1, 2, 300, 4, 65535], { tokenizer: 'gpt2' })
    expect(() => decodeIds(bin, 256)).toThrow(/2 token ids are ≥ the vocabulary \(256\), the first is 300 at token 2/)
    // a "bytes" sidecar on a file with GPT-2 ids: the sidecar is consistent, the ids are not
    const { meta } = await makeTokenFile([1, 2, 3], { tokenizer: 'bytes' })
    await expect(readTokenFile(bin, { ...meta, tokens: 5, sha256: (await makeTokenFile([1, 2, 300, 4, 65535], { tokenizer: 'gpt2' })).meta.sha256 })).rejects.toMatchObject({ name: 'TokenFileError' })
  })

  it('lists every problem of a bad sidecar', () => {
    try {
      parseTokenFileMeta({ format: 'x', version: 2, tokenizer: 'gpt5', vocab: -1, tokens: 10, validation_tokens: 10, sha256: 'nope', extra: 1 })
      expect.unreachable()
    } catch (e) {
      const err = e as { name: string, problems: string[] }
      expect(err.name).toBe('TokenFileError')
      expect(err.problems.join('\n')).toMatch(/format[\s\S]*version[\s\S]*tokenizer[\s\S]*vocab[\s\S]*validation_tokens[\s\S]*sha256[\s\S]*unknown field "extra"/)
    }
  })
})
