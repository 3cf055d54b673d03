// The operator's admin token: TABGRAD_ADMIN_TOKEN if set, else `<dataDir>/admin-token`, created
// on first start (0600) so it survives restarts. `npm start` prints a sign-in link with it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileDurable } from '../durable-write.ts'

export const ADMIN_TOKEN_FILE = 'admin-token'
/** 32 random bytes, base64url: guessing is out of reach, and it fits a URL. */
const TOKEN_BYTES = 32
/** A token set by hand must still be hard to guess. */
export const MIN_ADMIN_TOKEN_LENGTH = 24

export class AdminTokenError extends Error {
  override name = 'AdminTokenError'
}

export async function loadOrCreateAdminToken (dataDir: string, fromEnv?: string): Promise<string> {
  if (fromEnv != null && fromEnv !== '') {
    if (fromEnv.length < MIN_ADMIN_TOKEN_LENGTH) throw new AdminTokenError(`TABGRAD_ADMIN_TOKEN must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters`)
    return fromEnv
  }
  const path = join(dataDir, ADMIN_TOKEN_FILE)
  try {
    const token = (await readFile(path, 'utf8')).trim()
    if (token.length >= MIN_ADMIN_TOKEN_LENGTH) return token
    throw new AdminTokenError(`${path} holds a token shorter than ${MIN_ADMIN_TOKEN_LENGTH} characters; delete it to create a new one`)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const token = randomBytes(TOKEN_BYTES).toString('base64url')
  await mkdir(dataDir, { recursive: true })
  await writeFileDurable(path, token + '\n', { mode: 0o600 })
  return token
}

/** Constant-time comparison (over digests, so lengths leak nothing either). */
export function tokensEqual (a: string, b: string): boolean {
  const h = (s: string): Buffer => createHash('sha256').update(s).digest()
  return timingSafeEqual(h(a), h(b))
}
