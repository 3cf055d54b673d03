// CLI outputs are written whole or not at all: a crash or a bad flag never leaves half a file.
import { rename, unlink, writeFile } from 'node:fs/promises'

/** `mode` sets the file's permissions from its first byte on (0o600 for a private key). */
export async function writeAtomic (path: string, bytes: Uint8Array, mode?: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`
  try {
    await writeFile(tmp, bytes, mode != null ? { mode } : {})
    await rename(tmp, path)
  } catch (e) {
    await unlink(tmp).catch(() => {})
    throw e
  }
}
