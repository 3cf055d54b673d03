// Writes a small file so that a crash leaves either the old file or the whole new one: the
// bytes go to a fresh temporary file in the same folder, are fsynced, renamed over the target
// (atomic on one filesystem), and the folder is fsynced so the rename itself survives a power
// loss. Used for campaign records and the tracker's key.
import { randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

export async function writeFileDurable (path: string, data: string | Uint8Array, opts: { mode?: number } = {}): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  const file = await open(tmp, 'wx', opts.mode ?? 0o644)
  try {
    try {
      await file.writeFile(data)
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
  await syncDir(dirname(path))
}

async function syncDir (dir: string): Promise<void> {
  // Directory fsync is how POSIX makes a rename durable; some filesystems refuse it (EINVAL/EISDIR on Windows).
  const d = await open(dir, 'r').catch(() => null)
  if (d == null) return
  try { await d.sync() } catch {} finally { await d.close().catch(() => {}) }
}
