// `--wallet-key FILE`: signs in with Ethereum (SIWE) as a browser volunteer does, with a private
// key read from a file instead of a wallet prompt, so the tracker credits this volunteer's PeerId's
// work to that address. The key never leaves this process: only signatures go to the tracker.
import { readFile, stat } from 'node:fs/promises'
import { Wallet } from 'ethers'
import type { PrivateKey } from '@libp2p/interface'
import { signInWithEthereum } from '../identity/sign-in.ts'
import type { Eip1193Provider } from '../identity/wallet.ts'
import { BadKeyFileError } from './errors.ts'

/** The wallet in a key file: 32 bytes as hex, with or without 0x, surrounding whitespace allowed. */
export async function loadWalletKey (path: string): Promise<Wallet> {
  let text: string
  try {
    if ((await stat(path)).size > 1024) throw new BadKeyFileError(`bad wallet key file ${path}: expected 64 hex digits`)
    text = await readFile(path, 'utf8')
  } catch (err) {
    if (err instanceof BadKeyFileError) throw err
    throw new BadKeyFileError(`cannot read wallet key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  const hex = text.trim().replace(/^0x/i, '')
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new BadKeyFileError(`bad wallet key file ${path}: expected 64 hex digits (an Ethereum private key)`)
  try {
    return new Wallet(`0x${hex}`)
  } catch {
    throw new BadKeyFileError(`bad wallet key file ${path}: not a valid secp256k1 private key`)
  }
}

/** An EIP-1193 provider that signs `personal_sign` requests with `wallet` (the only call sign-in makes). */
export function keyFileProvider (wallet: Wallet): Eip1193Provider {
  return {
    async request ({ method, params }) {
      if (method === 'eth_requestAccounts' || method === 'eth_accounts') return [wallet.address]
      if (method !== 'personal_sign') throw new Error(`unsupported wallet method ${method}`)
      const [hexMessage, address] = params as [string, string]
      if (address.toLowerCase() !== wallet.address.toLowerCase()) throw new Error('asked to sign for another address')
      return await wallet.signMessage(Buffer.from(hexMessage.replace(/^0x/, ''), 'hex'))
    }
  }
}

/** Binds `privateKey`'s PeerId to the wallet's address on the tracker at `origin`. */
export async function signInWithKeyFile (wallet: Wallet, privateKey: PrivateKey, origin: string): Promise<string> {
  await signInWithEthereum({ provider: keyFileProvider(wallet), address: wallet.address, privateKey, origin, signal: AbortSignal.timeout(30_000) })
  return wallet.address
}
