import { describe, expect, it } from 'vitest'
import { Wallet, getBytes } from 'ethers'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createIdentityRoutes } from '../tracker/identity-routes.ts'
import { createBindings } from './bindings.ts'
import { createNonceStore } from './nonce-store.ts'
import { signInWithEthereum } from './sign-in.ts'
import { discoverWallets, personalSign, requestAccounts, type Eip1193Provider } from './wallet.ts'

/** A private-key wallet behind an EIP-1193 face, like the e2e test wallet (ENVIRONMENT.md). */
function testProvider (wallet: ReturnType<typeof Wallet.createRandom>, refuse = false): Eip1193Provider {
  return {
    async request ({ method, params }) {
      if (refuse) throw Object.assign(new Error('User rejected the request.'), { code: 4001 })
      if (method === 'eth_requestAccounts') return [wallet.address.toLowerCase()]
      if (method === 'personal_sign') return await wallet.signMessage(getBytes((params as string[])[0]))
      throw Object.assign(new Error('unsupported'), { code: 4200 })
    }
  }
}

function announceOn (target: EventTarget, uuid: string, provider: Eip1193Provider): void {
  target.addEventListener('eip6963:requestProvider', () => {
    target.dispatchEvent(new CustomEvent('eip6963:announceProvider', { detail: { info: { uuid, name: uuid, icon: '', rdns: `test.${uuid}` }, provider } }))
  })
}

describe('wallet', () => {
  const wallet = Wallet.createRandom()

  it('discovers EIP-6963 wallets once each, else falls back to window.ethereum', async () => {
    const target = new EventTarget()
    announceOn(target, 'a', testProvider(wallet))
    announceOn(target, 'b', testProvider(wallet))
    announceOn(target, 'a', testProvider(wallet))
    expect((await discoverWallets({ target, timeoutMs: 10 })).map(w => w.info.uuid)).toEqual(['a', 'b'])

    const legacy = Object.assign(new EventTarget(), { ethereum: testProvider(wallet) })
    expect((await discoverWallets({ target: legacy, timeoutMs: 10 })).map(w => w.info.uuid)).toEqual(['injected'])
    expect(await discoverWallets({ target: new EventTarget(), timeoutMs: 10 })).toEqual([])
  })

  it('requests accounts and personal_sign, with typed refusals', async () => {
    const provider = testProvider(wallet)
    expect(await requestAccounts(provider)).toEqual([wallet.address])
    const sig = await personalSign(provider, wallet.address, 'hello')
    expect(sig).toBe(await wallet.signMessage('hello'))
    await expect(requestAccounts(testProvider(wallet, true))).rejects.toMatchObject({ name: 'WalletError' })
    await expect(personalSign(testProvider(wallet, true), wallet.address, 'x')).rejects.toMatchObject({ name: 'WalletError' })
  })

  it('signs in end to end against the tracker routes', async () => {
    const bindings = createBindings()
    const routes = createIdentityRoutes({ nonces: createNonceStore(), bindings })
    const fetch = (async (url: URL, opts?: RequestInit) => {
      const r = await routes({ method: opts?.method ?? 'GET', path: url.pathname, host: url.host, body: opts?.body != null ? JSON.parse(String(opts.body)) : undefined })
      return new Response(JSON.stringify(r?.body ?? { error: 'not found' }), { status: r?.status ?? 404 })
    }) as unknown as typeof globalThis.fetch
    const privateKey = await generateKeyPair('Ed25519')
    const provider = testProvider(wallet)
    const [address] = await requestAccounts(provider)
    const peerId = peerIdFromPrivateKey(privateKey).toString()
    expect(await signInWithEthereum({ provider, address, privateKey, origin: 'http://localhost:5173', fetch })).toEqual({ address, peerId, peerIds: [peerId] })
    expect(bindings.addressOf(peerId)).toBe(address)
  })
})
