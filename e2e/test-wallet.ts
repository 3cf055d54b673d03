// A real wallet for e2e tests: an EIP-1193 provider injected into the page before any script
// runs and announced through EIP-6963, whose `personal_sign` is done in Node by an ethers
// private-key account (the key never enters the page). Signatures are real EIP-191 ones, so
// the tracker verifies them exactly as it would a browser extension's.
import { Wallet, getAddress, getBytes, type HDNodeWallet } from 'ethers'
import type { BrowserContext, Page } from 'playwright'

export interface TestWallet {
  address: string
  /** What the wallet tells the app about itself (EIP-6963 `info`). */
  name: string
  /** `personal_sign` calls the page made, in order (the message bytes as UTF-8). */
  signed: string[]
}

export interface TestWalletInit {
  /** @default a fresh random account */
  wallet?: Wallet | HDNodeWallet
  /** @default 'Test Wallet' */
  name?: string
  /** Answer `eth_requestAccounts` and `personal_sign` with EIP-1193 error 4001 (user rejected). @default false */
  reject?: boolean
}

/** Injects into a page, or into every page of a context (pages opened later included). */
export async function injectTestWallet (target: Page | BrowserContext, init: TestWalletInit = {}): Promise<TestWallet> {
  const wallet = init.wallet ?? Wallet.createRandom()
  const result: TestWallet = { address: wallet.address, name: init.name ?? 'Test Wallet', signed: [] }

  await target.exposeFunction('__tabgradTestSign', async (hexMessage: string, address: string): Promise<string> => {
    if (getAddress(address) !== wallet.address) throw new Error(`the test wallet holds ${wallet.address}, not ${address}`)
    const bytes = getBytes(hexMessage)
    result.signed.push(new TextDecoder().decode(bytes))
    return await wallet.signMessage(bytes)
  })

  await target.addInitScript(({ address, name, reject }) => {
    type Request = { method: string, params?: unknown[] }
    const rejected = (): Error => Object.assign(new Error('User rejected the request.'), { code: 4001 })
    let connected = false
    const provider = {
      isTabgradTestWallet: true,
      async request ({ method, params = [] }: Request): Promise<unknown> {
        switch (method) {
          case 'eth_requestAccounts':
            if (reject) throw rejected()
            connected = true
            return [address]
          case 'eth_accounts':
            return connected ? [address] : []
          case 'eth_chainId':
            return '0x1'
          case 'personal_sign': {
            if (reject) throw rejected()
            const [message, signer] = params as [string, string]
            const sign = (window as unknown as { __tabgradTestSign: (m: string, a: string) => Promise<string> }).__tabgradTestSign
            return await sign(message, signer)
          }
          default:
            throw Object.assign(new Error(`${method} is not supported by the test wallet`), { code: 4200 })
        }
      }
    }
    const info = Object.freeze({
      uuid: crypto.randomUUID(),
      name,
      rdns: 'org.tabgrad.testwallet',
      icon: 'data:image/svg+xml,' + encodeURIComponent('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect width="24" height="24" rx="5" fill="#1d4ed8"/><path d="M6 8h12v9H6z" fill="#fff"/></svg>')
    })
    const announce = (): void => {
      window.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: Object.freeze({ info, provider }) }))
    }
    window.addEventListener('eip6963:requestProvider', announce)
    announce()
  }, { address: wallet.address, name: result.name, reject: init.reject ?? false })

  return result
}
