import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { toString } from 'uint8arrays'
import { loadOrCreatePeerKey, PEER_KEY_FILE } from './peer-key-file.ts'

let dir: string
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'tabgrad-key-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('loadOrCreatePeerKey', () => {
  it('creates an Ed25519 key readable by its owner only, and loads the same one next time', async () => {
    const a = await loadOrCreatePeerKey(dir)
    expect(a.created).toBe(true)
    expect(a.privateKey.type).toBe('Ed25519')
    expect((await stat(join(dir, PEER_KEY_FILE))).mode & 0o777).toBe(0o600)
    const b = await loadOrCreatePeerKey(dir)
    expect(b.created).toBe(false)
    expect(b.privateKey.equals(a.privateKey)).toBe(true)
  })

  it.each([
    ['garbage', 'not a key at all!'],
    ['base64 that is no key', 'AAAA'],
    ['an empty file', '']
  ])('refuses %s with a BadKeyFileError and leaves the file as it was', async (_why, text) => {
    await writeFile(join(dir, PEER_KEY_FILE), text)
    await expect(loadOrCreatePeerKey(dir)).rejects.toMatchObject({ name: 'BadKeyFileError' })
    expect(await readFile(join(dir, PEER_KEY_FILE), 'utf8')).toBe(text)
  })

  it('refuses a key of another type', async () => {
    const k = await generateKeyPair('secp256k1')
    await writeFile(join(dir, PEER_KEY_FILE), toString(privateKeyToProtobuf(k), 'base64pad'))
    await expect(loadOrCreatePeerKey(dir)).rejects.toThrow(/secp256k1 key; volunteers use Ed25519/)
  })

  it('refuses a directory in the key file\'s place', async () => {
    await mkdir(join(dir, PEER_KEY_FILE))
    await expect(loadOrCreatePeerKey(dir)).rejects.toMatchObject({ name: 'BadKeyFileError' })
  })
})
