// The relay's libp2p key is kept in the data directory so its PeerId, and so its multiaddr,
// survives restarts: tabs and share links keep working.
import { mkdir, readFile } from 'node:fs/promises'
import { writeFileDurable } from './durable-write.ts'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'

export async function loadOrCreateRelayKey (dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, 'relay-key.pb')
  try {
    return privateKeyFromProtobuf(new Uint8Array(await readFile(path)))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`relay key ${path} is unreadable (${(err as Error).message}); move it away to create a new one`)
  }
  const key = await generateKeyPair('Ed25519')
  await mkdir(dataDir, { recursive: true })
  // fsync, then rename: a crash never leaves a half-written key.
  await writeFileDurable(path, privateKeyToProtobuf(key), { mode: 0o600 })
  return key
}
