// The volunteer's libp2p identity: an Ed25519 key kept in the data dir, so a restart keeps its
// PeerId (its stage, its credit, its place among the replicas). Written once, atomically, readable
// by its owner only; a key file that is there but unreadable stops the volunteer rather than
// silently becoming someone new.
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { fromString, toString } from 'uint8arrays'
import { writeAtomic } from '../cli/write-atomic.ts'
import { BadKeyFileError } from './errors.ts'

export const PEER_KEY_FILE = 'peer-key'

/** A protobuf-encoded Ed25519 key is 68 bytes; anything far bigger is not ours. */
const MAX_KEY_FILE_BYTES = 4096

/** Loads `<dir>/peer-key`, or creates it (mode 0600) when absent. `created` says which. */
export async function loadOrCreatePeerKey (dir: string): Promise<{ privateKey: PrivateKey, created: boolean, path: string }> {
  const path = join(dir, PEER_KEY_FILE)
  let text: string
  try {
    const st = await stat(path)
    if (!st.isFile() || st.size > MAX_KEY_FILE_BYTES) throw new BadKeyFileError(`bad key file ${path}: not a libp2p key (move it away to start with a new identity)`)
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (err instanceof BadKeyFileError) throw err
      throw new BadKeyFileError(`cannot read key file ${path}: ${(err as Error).message}`)
    }
    const privateKey = await generateKeyPair('Ed25519')
    await writeAtomic(path, new TextEncoder().encode(`${toString(privateKeyToProtobuf(privateKey), 'base64pad')}\n`), 0o600)
    return { privateKey, created: true, path }
  }
  return { privateKey: parsePeerKey(text, path), created: false, path }
}

/** The key in a key file's text (base64 of libp2p's protobuf encoding); Ed25519 only. */
export function parsePeerKey (text: string, path: string): PrivateKey {
  const bad = (why: string): BadKeyFileError => new BadKeyFileError(`bad key file ${path}: ${why} (move it away to start with a new identity)`)
  const b64 = text.trim()
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw bad('not base64')
  let key: PrivateKey
  try {
    key = privateKeyFromProtobuf(fromString(b64, 'base64pad'))
  } catch (err) {
    throw bad(`not a libp2p private key (${(err as Error).message})`)
  }
  if (key.type !== 'Ed25519') throw bad(`a ${key.type} key; volunteers use Ed25519`)
  return key
}
