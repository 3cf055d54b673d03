// Tests of src/tracker/identity-routes.ts: the sign-in flow as the app drives it.
import { describe, expect, it } from 'vitest'
import { Wallet } from 'ethers'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { toString as bytesToString } from 'uint8arrays/to-string'
import type { PrivateKey } from '@libp2p/interface'
import { createIdentityRoutes } from '../tracker/identity-routes.ts'
import { createBindings } from './bindings.ts'
import { createNonceStore } from './nonce-store.ts'
import { buildSignInMessage } from './siwe-message.ts'

const HOST = '127.0.0.1:8080'

describe('identity routes', async () => {
  const routes = createIdentityRoutes({ nonces: createNonceStore(), bindings: createBindings() })
  const get = async (path: string) => await routes({ method: 'GET', path, host: HOST })
  const post = async (path: string, body: unknown) => await routes({ method: 'POST', path, host: HOST, readBody: async () => body })

  async function signedBody (wallet: Wallet | ReturnType<typeof Wallet.createRandom>, key: PrivateKey) {
    const { body } = (await get('/api/siwe/nonce'))!
    const message = buildSignInMessage({ address: wallet.address, peerId: peerIdFromPrivateKey(key).toString(), nonce: (body as { nonce: string }).nonce, origin: `http://${HOST}` })
    return {
      message,
      signature: await wallet.signMessage(message),
      peerSignature: bytesToString(await key.sign(new TextEncoder().encode(message)), 'base64pad')
    }
  }

  const alice = Wallet.createRandom()
  const bob = Wallet.createRandom()
  const tab1 = await generateKeyPair('Ed25519')
  const tab2 = await generateKeyPair('Ed25519')

  it('signs in, binds the PeerId and lists it under the address', async () => {
    const body = await signedBody(alice, tab1)
    const tab1Id = peerIdFromPrivateKey(tab1).toString()
    expect(await post('/api/siwe/verify', body)).toEqual({ status: 200, body: { address: alice.address, peerId: tab1Id, peerIds: [tab1Id] } })
    expect(await post('/api/siwe/verify', body)).toMatchObject({ status: 401 })
    await post('/api/siwe/verify', await signedBody(alice, tab2))
    expect(await get(`/api/identity/${alice.address.toLowerCase()}`)).toEqual({
      status: 200, body: { address: alice.address, peerIds: [tab1Id, peerIdFromPrivateKey(tab2).toString()] }
    })
    expect(await get(`/api/identity/${bob.address}`)).toEqual({ status: 200, body: { address: bob.address, peerIds: [] } })
  })

  it('one sign-in binds a browser\'s tabs: one wallet signature, one signature per tab key', async () => {
    const carol = Wallet.createRandom()
    const keys = [await generateKeyPair('Ed25519'), await generateKeyPair('Ed25519'), tab1]
    const ids = keys.map(k => peerIdFromPrivateKey(k).toString())
    const { body } = (await get('/api/siwe/nonce'))!
    const message = buildSignInMessage({ address: carol.address, peerId: ids[0], otherPeerIds: ids.slice(1), nonce: (body as { nonce: string }).nonce, origin: `http://${HOST}` })
    const peerSignatures = await Promise.all(keys.map(async k => bytesToString(await k.sign(new TextEncoder().encode(message)), 'base64pad')))
    // tab1 is alice's already: it stays hers, the two new tabs become carol's.
    expect(await post('/api/siwe/verify', { message, signature: await carol.signMessage(message), peerSignatures }))
      .toEqual({ status: 200, body: { address: carol.address, peerId: ids[0], peerIds: ids.slice(0, 2) } })
    expect((await get(`/api/identity/${carol.address}`))!.body).toEqual({ address: carol.address, peerIds: ids.slice(0, 2) })
    expect((await get(`/api/identity/${alice.address}`))!.body).toMatchObject({ peerIds: expect.arrayContaining([ids[2]]) })
  })

  it('answers bad requests with a one-line 4xx', async () => {
    const r = await post('/api/siwe/verify', await signedBody(bob, tab1))
    expect(r).toMatchObject({ status: 409 })
    expect(await get('/api/identity/0xnope')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^[^\n]+$/) } })
    expect(await get('/api/identity/%E0%A4%A')).toMatchObject({ status: 400 })
    expect(await post('/api/siwe/nonce', {})).toMatchObject({ status: 405 })
    expect(await get('/api/siwe/verify')).toMatchObject({ status: 405 })
    expect(await post('/api/siwe/verify', 'not an object')).toMatchObject({ status: 400 })
    const other = createIdentityRoutes({ nonces: createNonceStore(), bindings: createBindings(), domains: ['tabgrad.example'] })
    const body = await signedBody(alice, tab2)
    expect(await other({ method: 'POST', path: '/api/siwe/verify', body, host: HOST })).toMatchObject({ status: 401 })
    const bodyError = async () => { throw Object.assign(new Error('body exceeds the limit'), { status: 413 }) }
    expect(await routes({ method: 'POST', path: '/api/siwe/verify', readBody: bodyError })).toEqual({ status: 413, body: { error: 'body exceeds the limit' } })
    expect(await get('/api/campaigns')).toBeUndefined()
  })
})
