// Browser: find the user's wallets (EIP-6963, falling back to the legacy `window.ethereum`)
// and ask one for accounts and a `personal_sign` signature (EIP-1193).
import { getAddress, hexlify, toUtf8Bytes } from 'ethers'
import { WALLET_DISCOVERY_MS } from './constants.ts'
import { WalletError } from './errors.ts'

/** EIP-1193 provider, as much of it as we use. */
export interface Eip1193Provider {
  request(args: { method: string, params?: unknown[] }): Promise<unknown>
}

/** EIP-6963 `info`: what the wallet says about itself, for the picker. */
export interface WalletInfo {
  uuid: string
  name: string
  /** data: URI of an image (RFC 2397), shown as an <img src>. */
  icon: string
  /** Reverse-DNS id, e.g. `io.metamask`. */
  rdns: string
}

export interface WalletOption {
  info: WalletInfo
  provider: Eip1193Provider
}

export interface DiscoverWalletsInit {
  /**
   * Where wallets announce themselves.
   * @default globalThis.window
   */
  target?: EventTarget & { ethereum?: Eip1193Provider }
  /**
   * How long to collect announcements.
   * @default WALLET_DISCOVERY_MS
   */
  timeoutMs?: number
  /**
   * Stops waiting early (resolving with what was found).
   * @default none
   */
  signal?: AbortSignal
}

/** The legacy injected provider, listed when no wallet speaks EIP-6963. */
export const INJECTED_WALLET_INFO: WalletInfo = { uuid: 'injected', name: 'Browser wallet', icon: '', rdns: '' }

/** Lists the wallets that answer within the timeout, one per uuid, in announcement order. */
export async function discoverWallets (init: DiscoverWalletsInit = {}): Promise<WalletOption[]> {
  const target = init.target ?? (globalThis as unknown as { window: EventTarget & { ethereum?: Eip1193Provider } }).window
  const found = new Map<string, WalletOption>()
  const onAnnounce = (event: Event): void => {
    const detail = (event as CustomEvent<Partial<WalletOption>>).detail
    const info = detail?.info
    if (typeof info?.uuid !== 'string' || typeof detail?.provider?.request !== 'function') return
    if (!found.has(info.uuid)) found.set(info.uuid, { info: Object.freeze({ ...info }), provider: detail.provider })
  }
  target.addEventListener('eip6963:announceProvider', onAnnounce)
  try {
    target.dispatchEvent(new Event('eip6963:requestProvider'))
    await new Promise<void>(resolve => {
      const timer = setTimeout(resolve, init.timeoutMs ?? WALLET_DISCOVERY_MS)
      init.signal?.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
    })
  } finally {
    target.removeEventListener('eip6963:announceProvider', onAnnounce)
  }
  if (found.size === 0 && typeof target.ethereum?.request === 'function') {
    return [{ info: INJECTED_WALLET_INFO, provider: target.ethereum }]
  }
  return [...found.values()]
}

// EIP-1193 §"Provider Errors": 4001 is the user saying no.
function walletError (err: unknown, what: string): WalletError {
  const e = err as { code?: unknown, message?: unknown }
  if (e?.code === 4001) return new WalletError(`${what} was declined in the wallet`)
  return new WalletError(`${what} failed: ${String(e?.message ?? err).split('\n')[0]}`)
}

/** Asks for the user's accounts (opens the wallet's connect prompt); checksummed addresses. */
export async function requestAccounts (provider: Eip1193Provider): Promise<string[]> {
  let accounts: unknown
  try {
    accounts = await provider.request({ method: 'eth_requestAccounts' })
  } catch (err) {
    throw walletError(err, 'connecting to the wallet')
  }
  if (!Array.isArray(accounts) || accounts.length === 0) throw new WalletError('the wallet shared no account')
  return accounts.map(a => getAddress(String(a)))
}

/** EIP-191 `personal_sign` of a UTF-8 message by `address`; the 0x-hex signature. */
export async function personalSign (provider: Eip1193Provider, address: string, message: string): Promise<string> {
  let signature: unknown
  try {
    // Hex-encoded message first, then the address (the order MetaMask and EIP-1474 use).
    signature = await provider.request({ method: 'personal_sign', params: [hexlify(toUtf8Bytes(message)), address] })
  } catch (err) {
    throw walletError(err, 'signing')
  }
  if (typeof signature !== 'string' || !/^0x[0-9a-fA-F]+$/.test(signature)) throw new WalletError('the wallet returned no signature')
  return signature
}
