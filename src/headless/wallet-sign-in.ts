// `--wallet-key FILE`: signs in with Ethereum (SIWE) as a browser volunteer does, with a private
// key read from a file instead of a wallet prompt, so the tracker credits this volunteer's PeerId's
// work to that address. The key never leaves this process: only signatures go to the tracker.
// `--address 0x…`: the same sign-in, with the key staying in the user's own wallet: the message is
// printed, and the signature is pasted back on stdin.
import { readFile, stat } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { Wallet, getAddress, getBytes, verifyMessage } from 'ethers'
import type { PrivateKey } from '@libp2p/interface'
import { signInWithEthereum } from '../identity/sign-in.ts'
import { NONCE_TTL_MS } from '../identity/constants.ts'
import type { Eip1193Provider } from '../identity/wallet.ts'
import { BadKeyFileError, BadSignatureError } from './errors.ts'

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

// ---- --address: a signature pasted from the user's wallet

export interface PastedSignatureInit {
  /** Where the message and the prompt go. @default process.stdout */
  output?: Writable
  /** Where the signature line comes from. @default process.stdin */
  input?: Readable
}

/** The message between these lines is exactly what to sign (without the marker lines). */
export const MESSAGE_BEGIN = '-----BEGIN SIGN-IN MESSAGE-----'
export const MESSAGE_END = '-----END SIGN-IN MESSAGE-----'

/** The first line on `input`, or null if it closes first. */
async function readLine (input: Readable): Promise<string | null> {
  const rl = createInterface({ input, terminal: false })
  try {
    return await new Promise<string | null>(resolve => {
      rl.once('line', line => { resolve(line) })
      rl.once('close', () => { resolve(null) })
    })
  } finally {
    rl.close()
  }
}

/**
 * An EIP-1193 provider for `address` whose `personal_sign` prints the message and reads the
 * signature from a line of input. The signature must recover to `address` (checked here, so a
 * wrong key or a mangled paste is one clear error, not a refusal from the tracker).
 */
export function pastedSignatureProvider (address: string, init: PastedSignatureInit = {}): Eip1193Provider {
  const output = init.output ?? process.stdout
  const input = init.input ?? process.stdin
  return {
    async request ({ method, params }) {
      if (method === 'eth_requestAccounts' || method === 'eth_accounts') return [address]
      if (method !== 'personal_sign') throw new Error(`unsupported wallet method ${method}`)
      const message = new TextDecoder().decode(getBytes((params as [string])[0]))
      output.write(`Sign this message with ${address} in your wallet (personal_sign, EIP-191), then paste the signature here:\n${MESSAGE_BEGIN}\n${message}\n${MESSAGE_END}\nsignature (0x…): `)
      const line = await readLine(input)
      if (line == null) throw new BadSignatureError('--address: no signature on stdin (it closed before a line came)')
      const signature = line.trim()
      if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) throw new BadSignatureError(`--address: not a signature: expected 0x and 130 hex digits (65 bytes), got "${signature.slice(0, 24)}${signature.length > 24 ? '…' : ''}"`)
      let signer: string
      try {
        signer = verifyMessage(message, signature)
      } catch {
        throw new BadSignatureError('--address: the signature is not a valid secp256k1 signature')
      }
      if (signer !== address) throw new BadSignatureError(`--address: the signature was made by ${signer}, not ${address}: sign with that address's key`)
      return signature
    }
  }
}

/** Binds `privateKey`'s PeerId to `address` with a signature the user pastes; the checksummed address. */
export async function signInWithPastedSignature (address: string, privateKey: PrivateKey, origin: string, init: PastedSignatureInit = {}): Promise<string> {
  const checksummed = getAddress(address)
  let bad: BadSignatureError | undefined
  const provider = pastedSignatureProvider(checksummed, init)
  const watched: Eip1193Provider = {
    async request (req) {
      try {
        return await provider.request(req)
      } catch (err) {
        if (err instanceof BadSignatureError) bad = err
        throw err
      }
    }
  }
  try {
    // A person reads, signs and pastes: as long as the tracker's nonce lives.
    await signInWithEthereum({ provider: watched, address: checksummed, privateKey, origin, signal: AbortSignal.timeout(NONCE_TTL_MS) })
  } catch (err) {
    throw bad ?? err // personalSign wraps the provider's errors; ours already say what to do
  }
  return checksummed
}
