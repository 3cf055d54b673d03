import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wallet, hexlify, toUtf8Bytes, verifyMessage } from 'ethers'
import { personalSign } from '../identity/wallet.ts'
import { keyFileProvider, loadWalletKey } from './wallet-sign-in.ts'

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'tabgrad-wallet-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('wallet key file', () => {
  it('reads a hex key with or without 0x and surrounding whitespace', async () => {
    const w = Wallet.createRandom()
    await writeFile(join(dir, 'a'), `${w.privateKey}\n`)
    await writeFile(join(dir, 'b'), `  ${w.privateKey.slice(2)}  `)
    expect((await loadWalletKey(join(dir, 'a'))).address).toBe(w.address)
    expect((await loadWalletKey(join(dir, 'b'))).address).toBe(w.address)
  })

  it.each([
    ['too short', '0x1234'],
    ['not hex', 'z'.repeat(64)],
    ['zero, not a secp256k1 key', '0'.repeat(64)]
  ])('refuses a key that is %s', async (_why, text) => {
    await writeFile(join(dir, 'bad'), text)
    await expect(loadWalletKey(join(dir, 'bad'))).rejects.toMatchObject({ name: 'BadKeyFileError' })
  })

  it('refuses a missing file', async () => {
    await expect(loadWalletKey(join(dir, 'missing'))).rejects.toThrow(/cannot read wallet key file .*ENOENT/)
  })

  it('signs personal_sign as a browser wallet does: the signature recovers to its address', async () => {
    const w = Wallet.createRandom()
    const provider = keyFileProvider(new Wallet(w.privateKey))
    const message = 'tabgrad wants you to sign in\nwith a line break'
    const sig = await personalSign(provider, w.address, message)
    expect(verifyMessage(message, sig)).toBe(w.address)
    await expect(provider.request({ method: 'personal_sign', params: [hexlify(toUtf8Bytes('x')), Wallet.createRandom().address] })).rejects.toThrow(/another address/)
    await expect(provider.request({ method: 'eth_sendTransaction', params: [] })).rejects.toThrow(/unsupported/)
  })
})
