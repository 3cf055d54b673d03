// A worker thread that tokenizes a text file (or the shipped SOTU corpus) into a content-addressed
// token file, so an 11 MB corpus never blocks the tracker's event loop. Messages to the parent:
// TokenizeWorkerMessage. The files appear whole (written to a temporary name, then renamed).
import { parentPort, workerData } from 'node:worker_threads'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadTokenizer, type TokenizerName } from '../tokenizer/tokenizer.ts'
import { tokenizeDocuments } from '../data/corpus.ts'
import { makeTokenFile } from '../data/token-file.ts'
import { readSotuDocuments, SOTU_SOURCE } from '../data/sotu.ts'
import type { TokenFileMeta } from '../data/token-file.ts'

export interface TokenizeWorkerInput {
  /** a UTF-8 text file, or the shipped corpus */
  text: { path: string, source: string } | 'sotu'
  tokenizer: TokenizerName
  /** where `<sha256>.bin` and `<sha256>.bin.json` go */
  outDir: string
}

export type TokenizeWorkerMessage =
  | { type: 'progress', done: number, total: number, tokens: number }
  | { type: 'done', meta: TokenFileMeta }
  | { type: 'error', message: string }

async function run (input: TokenizeWorkerInput): Promise<TokenFileMeta> {
  const tok = await loadTokenizer(input.tokenizer)
  let docs: string[]
  let source: string
  if (input.text === 'sotu') {
    docs = await readSotuDocuments(); source = SOTU_SOURCE
  } else {
    const bytes = await readFile(input.text.path)
    // fatal: a file that is not UTF-8 is refused rather than silently altered.
    docs = [new TextDecoder('utf-8', { fatal: true }).decode(bytes)]; source = input.text.source
  }
  const ids = await tokenizeDocuments(tok, docs, { onProgress: p => { parentPort?.postMessage({ type: 'progress', ...p } satisfies TokenizeWorkerMessage) } })
  const { bin, meta } = await makeTokenFile(ids, { tokenizer: input.tokenizer, source })
  const base = join(input.outDir, `${meta.sha256}.bin`)
  const tmp = `${base}.${process.pid}.tmp`
  await writeFile(tmp, bin)
  await rename(tmp, base)
  await writeFile(`${tmp}.json`, JSON.stringify(meta, null, 2) + '\n')
  await rename(`${tmp}.json`, `${base}.json`)
  return meta
}

if (parentPort != null) {
  run(workerData as TokenizeWorkerInput).then(
    meta => { parentPort!.postMessage({ type: 'done', meta } satisfies TokenizeWorkerMessage) },
    (err: Error) => {
      const message = err instanceof TypeError && /encoded data was not valid/i.test(err.message) ? 'the text is not valid UTF-8' : err.message
      parentPort!.postMessage({ type: 'error', message } satisfies TokenizeWorkerMessage)
    }
  )
}
