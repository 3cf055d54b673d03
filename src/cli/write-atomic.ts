// CLI outputs are written whole or not at all: a crash or a bad flag never leaves half a file.
import { rename, unlink, writeFile } from 'node:fs/promises'

export async function writeAtomic (path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`
  try {
    await writeFile(tmp, bytes)
    await rename(tmp, path)
  } catch (e) {
    await unlink(tmp).catch(() => {})
    throw e
  }
}
