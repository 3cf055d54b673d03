// `npm run tokenize -- --tokenizer gpt2 IN.txt OUT.bin`: text → a token file (nanoGPT's uint16 LE
// .bin) and its sidecar OUT.bin.json (tokenizer, count, sha256, held-out validation tokens). IN
// may be `sotu`, the shipped corpus. The same tokenizer module as the app and the tracker.
import { readFile } from 'node:fs/promises'
import { writeAtomic } from './write-atomic.ts'
import { UsageError, intFlag, parseFlags } from './args.ts'
import { isTokenizerName, loadTokenizer, TOKENIZER_NAMES } from '../tokenizer/tokenizer.ts'
import { tokenizeDocuments } from '../data/corpus.ts'
import { defaultValidationTokens, makeTokenFile } from '../data/token-file.ts'
import { readSotuDocuments, SOTU_SOURCE } from '../data/sotu.ts'
import type { ProgressSink } from './train-progress.ts'

export const TOKENIZE_USAGE = `usage: npm run tokenize -- [--tokenizer gpt2|bytes] [--validation N] IN.txt|sotu OUT.bin
Writes OUT.bin (uint16 little-endian token ids, as nanoGPT) and OUT.bin.json (tokenizer, tokens,
sha256, validation_tokens: the last N ids are held out; default 2 % of the tokens).
IN "sotu" is the shipped corpus: State of the Union addresses 1790–2016, each after <|endoftext|>.`

export interface TokenizeIo { stdout: ProgressSink, stderr: ProgressSink }

/** Returns the exit code: 0 done, 2 bad flags or input (nothing written), 1 failure. */
export async function tokenizeMain (argv: string[], io: TokenizeIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { io.stdout.write(TOKENIZE_USAGE + '\n'); return 0 }
  const err = (line: string): void => { io.stderr.write(`tokenize: ${line}\n`) }
  const flags: string[] = []
  const positional: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) { flags.push(argv[i]); if (!argv[i].includes('=')) flags.push(argv[++i] ?? '') } else positional.push(argv[i])
  }
  let name: string; let validation: number | null; let input: string; let output: string
  try {
    const f = parseFlags(flags, { values: ['tokenizer', 'validation'] }, TOKENIZE_USAGE)
    name = (f.get('tokenizer') as string | undefined) ?? 'gpt2'
    if (!isTokenizerName(name)) throw new UsageError(`--tokenizer must be one of ${TOKENIZER_NAMES.join(', ')}, got "${name}"`)
    validation = f.has('validation') ? intFlag(f, 'validation', 0, TOKENIZE_USAGE, 0) : null
    if (positional.length !== 2) throw new UsageError('give an input text file (or sotu) and an output .bin')
    ;[input, output] = positional
    if (!/\.bin$/i.test(output)) throw new UsageError(`the output must be a .bin file, got "${output}"`)
  } catch (e) {
    if (e instanceof UsageError) { err(`${e.message.split('\n')[0]} (npm run tokenize -- --help for usage)`); return 2 }
    throw e
  }

  let docs: string[]; let source: string
  try {
    if (input === 'sotu') { docs = await readSotuDocuments(); source = SOTU_SOURCE } else {
      docs = [new TextDecoder('utf-8', { fatal: true }).decode(await readFile(input))]; source = input
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    err(`${input}: ${code === 'ENOENT' ? 'no such file' : e instanceof TypeError ? 'not valid UTF-8 text' : (e as Error).message}`)
    return 2
  }

  const tok = await loadTokenizer(name)
  const t0 = performance.now()
  let last = 0
  const ids = await tokenizeDocuments(tok, docs, {
    onProgress: p => {
      if (io.stderr.isTTY !== true || performance.now() - last < 200) return
      last = performance.now()
      io.stderr.write(`\r${(100 * p.done / Math.max(1, p.total)).toFixed(0)}% ${p.tokens.toLocaleString('en-US')} tokens`)
    }
  })
  if (io.stderr.isTTY === true) io.stderr.write('\r\x1b[K')
  const held = validation ?? defaultValidationTokens(ids.length)
  if (held >= ids.length) { err(`--validation ${held} would hold out all ${ids.length} tokens`); return 2 }
  const { bin, meta } = await makeTokenFile(ids, { tokenizer: name, validationTokens: held, source })
  await writeAtomic(output, bin)
  await writeAtomic(`${output}.json`, new TextEncoder().encode(JSON.stringify(meta, null, 2) + '\n'))
  const chars = docs.reduce((s, d) => s + d.length, 0)
  io.stdout.write(`${output}: ${ids.length} ${name} tokens from ${chars} characters (${(chars / Math.max(1, ids.length)).toFixed(2)} chars/token) in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${held} held out for validation; sha256 ${meta.sha256}\n`)
  return 0
}
