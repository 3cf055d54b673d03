import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { Wallet } from 'ethers'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { toString as bytesToString } from 'uint8arrays/to-string'
import { SiweMessage } from 'siwe'
import type { PrivateKey } from '@libp2p/interface'
import { buildSignInMessage } from './siwe-message.ts'
import { createNonceStore, type NonceStore } from './nonce-store.ts'
import { parseSiwe, verifySignIn, verifySiwe } from './verify.ts'

// CI clones the repo with shared/ beside it; vitest runs from the repo root.
const VECTORS = '../shared/vectors/siwe/'
const vectors = (name: string): Record<string, any> => JSON.parse(readFileSync(VECTORS + name, 'utf8'))

const ORIGIN = 'http://127.0.0.1:8080'
const DOMAIN = '127.0.0.1:8080'
const T0 = Date.parse('2026-01-01T00:00:00Z')

async function rejection (p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    return (err as Error).name
  }
  return 'resolved'
}

// ---- conformance vectors (spruceid/siwe test/)

describe('EIP-4361 conformance vectors', () => {
  it('parses every positive parsing vector to its fields', () => {
    for (const [name, v] of Object.entries(vectors('parsing_positive.json'))) {
      const siwe = parseSiwe(v.message)
      for (const [field, want] of Object.entries(v.fields)) {
        // The vectors write an absent scheme as null; the parser leaves it undefined.
        expect((siwe as any)[field] ?? null, `${name}: ${field}`).toEqual(want)
      }
    }
  })

  it('rejects every negative parsing vector as malformed', async () => {
    for (const [name, message] of Object.entries(vectors('parsing_negative.json'))) {
      expect(await rejection(() => parseSiwe(message)), name).toBe('MalformedMessageError')
    }
  })

  // Serialise the fields without the constructor's validation, so that bad fields reach the verifier.
  const messageOf = (v: any): string => SiweMessage.prototype.toMessage.call({ ...v, signature: undefined })
  const optionsOf = (v: any) => ({
    domain: v.domainBinding ?? v.domain,
    isKnownNonce: (n: string) => n === (v.matchNonce ?? v.nonce),
    now: v.time != null ? Date.parse(v.time) : Date.now()
  })

  it('accepts every positive verification vector', () => {
    for (const [name, v] of Object.entries(vectors('verification_positive.json'))) {
      expect(verifySiwe(messageOf(v), v.signature, optionsOf(v)).address, name).toBe(v.address)
    }
  })

  it('rejects every negative verification vector with the matching error', async () => {
    const expected: Record<string, string> = {
      'expired message': 'ExpiredMessageError',
      'domain binding': 'DomainMismatchError',
      'custom time': 'ExpiredMessageError',
      'custom nonce': 'InvalidNonceError',
      'malformed signature': 'BadSignatureError',
      'wrong signature': 'BadSignatureError',
      'not yet valid': 'NotYetValidMessageError',
      // Impossible dates (Feb 31) are caught by the parser, before any signature check.
      'invalid issuedAt': 'MalformedMessageError',
      'invalid notBefore': 'MalformedMessageError',
      'invalid expirationTime': 'MalformedMessageError'
    }
    const negatives = vectors('verification_negative.json')
    expect(Object.keys(negatives).sort()).toEqual(Object.keys(expected).sort())
    for (const [name, v] of Object.entries(negatives)) {
      const got = await rejection(() => verifySiwe(messageOf(v), v.signature, optionsOf(v)))
      expect(got, name).toBe(expected[name])
    }
  })
})

// ---- tabgrad sign-in with real keys

interface Tab { wallet: Wallet, key: PrivateKey, peerId: string }

async function newTab (): Promise<Tab> {
  const key = await generateKeyPair('Ed25519')
  return { wallet: Wallet.createRandom() as unknown as Wallet, key, peerId: peerIdFromPrivateKey(key).toString() }
}

async function peerSign (key: PrivateKey, message: string): Promise<string> {
  return bytesToString(await key.sign(new TextEncoder().encode(message)), 'base64pad')
}

async function signIn (tab: Tab, nonces: NonceStore, over: { message?: string, now?: number } = {}) {
  const message = over.message ?? buildSignInMessage({
    address: tab.wallet.address, peerId: tab.peerId, nonce: nonces.issue(), origin: ORIGIN, now: over.now ?? T0
  })
  return { message, signature: await tab.wallet.signMessage(message), peerSignature: await peerSign(tab.key, message) }
}

describe('verifySignIn', () => {
  const clock = { t: T0 }
  const newNonces = (): NonceStore => createNonceStore({ now: () => clock.t })
  const opts = (nonces: NonceStore) => ({ domain: DOMAIN, nonces, now: clock.t })

  it('returns the checksummed address and the proven PeerId, once per nonce', async () => {
    const tab = await newTab()
    const nonces = newNonces()
    const req = await signIn(tab, nonces)
    expect(await verifySignIn(req, opts(nonces))).toEqual({ address: tab.wallet.address, peerId: tab.peerId, peerIds: [tab.peerId] })
    expect(await rejection(verifySignIn(req, opts(nonces)))).toBe('InvalidNonceError')
  })

  it('rejects a malformed message', async () => {
    const tab = await newTab()
    const nonces = newNonces()
    const req = await signIn(tab, nonces, { message: 'hello, tracker' })
    expect(await rejection(verifySignIn(req, opts(nonces)))).toBe('MalformedMessageError')
    expect(await rejection(verifySignIn({ ...req, message: 42 }, opts(nonces)))).toBe('MalformedMessageError')
    expect(await rejection(verifySignIn(null, opts(nonces)))).toBe('MalformedMessageError')
  })

  it('rejects a nonce the tracker never issued', async () => {
    const tab = await newTab()
    const nonces = newNonces()
    const message = buildSignInMessage({ address: tab.wallet.address, peerId: tab.peerId, nonce: 'abcdefgh12345678', origin: ORIGIN, now: T0 })
    const req = await signIn(tab, nonces, { message })
    expect(await rejection(verifySignIn(req, opts(nonces)))).toBe('InvalidNonceError')
  })

  it('rejects an expired message and a not-yet-valid one', async () => {
    const tab = await newTab()
    // Long-lived nonces, so that only the message's own validity window is under test.
    const nonces = createNonceStore({ ttlMs: 3_600_000, now: () => clock.t })
    const req = await signIn(tab, nonces)
    expect(await rejection(verifySignIn(req, { ...opts(nonces), now: T0 + 10 * 60_000 }))).toBe('ExpiredMessageError')
    const future = await signIn(tab, nonces, { now: T0 + 30 * 60_000 })
    expect(await rejection(verifySignIn(future, opts(nonces)))).toBe('NotYetValidMessageError')
    const message = new SiweMessage({ ...parseSiwe(req.message), nonce: nonces.issue(), notBefore: new Date(T0 + 60_000).toISOString() }).prepareMessage()
    expect(await rejection(verifySignIn(await signIn(tab, nonces, { message }), opts(nonces)))).toBe('NotYetValidMessageError')
  })

  it('rejects a message for another domain', async () => {
    const tab = await newTab()
    const nonces = newNonces()
    const message = buildSignInMessage({ address: tab.wallet.address, peerId: tab.peerId, nonce: nonces.issue(), origin: 'https://evil.example', now: T0 })
    expect(await rejection(verifySignIn(await signIn(tab, nonces, { message }), opts(nonces)))).toBe('DomainMismatchError')
  })

  it('rejects a wallet signature by another address, or garbage', async () => {
    const tab = await newTab()
    const other = await newTab()
    const nonces = newNonces()
    const req = await signIn(tab, nonces)
    const forged = { ...req, signature: await other.wallet.signMessage(req.message) }
    expect(await rejection(verifySignIn(forged, opts(nonces)))).toBe('BadSignatureError')
    expect(await rejection(verifySignIn({ ...req, signature: '0x1234' }, opts(nonces)))).toBe('BadSignatureError')
    expect(await rejection(verifySignIn({ ...req, signature: undefined }, opts(nonces)))).toBe('BadSignatureError')
    // The failed attempts did not use the nonce up.
    expect(await verifySignIn(req, opts(nonces))).toEqual({ address: tab.wallet.address, peerId: tab.peerId, peerIds: [tab.peerId] })
  })

  it('rejects a message with no libp2p: resource, a repeated one, more than 16, or one that is not a PeerId', async () => {
    const tab = await newTab()
    const nonces = newNonces()
    const base = parseSiwe(buildSignInMessage({ address: tab.wallet.address, peerId: tab.peerId, nonce: 'placeholder1', origin: ORIGIN, now: T0 }))
    const many = await Promise.all(Array.from({ length: 17 }, async () => `libp2p:${(await newTab()).peerId}`))
    for (const resources of [undefined, ['https://example.com/x'], [`libp2p:${tab.peerId}`, `libp2p:${tab.peerId}`], many, ['libp2p:notapeerid']]) {
      const message = new SiweMessage({ ...base, nonce: nonces.issue(), resources }).prepareMessage()
      const req = await signIn(tab, nonces, { message })
      const body = resources?.length === 1 || resources == null ? req : { ...req, peerSignature: undefined, peerSignatures: resources.map(() => req.peerSignature) }
      expect(await rejection(verifySignIn(body, opts(nonces))), String(resources?.length)).toBe('MissingPeerResourceError')
    }
  })

  it('binds a browser\'s several tabs with one wallet signature and one signature per tab key, in order', async () => {
    const tab = await newTab()
    const siblings = [await newTab(), await newTab()]
    const nonces = newNonces()
    const message = buildSignInMessage({ address: tab.wallet.address, peerId: tab.peerId, otherPeerIds: siblings.map(s => s.peerId), nonce: nonces.issue(), origin: ORIGIN, now: T0 })
    expect(message).toContain("this browser's 3 tabs")
    const keys = [tab.key, ...siblings.map(s => s.key)]
    const peerSignatures = await Promise.all(keys.map(async k => await peerSign(k, message)))
    const req = { message, signature: await tab.wallet.signMessage(message), peerSignatures }
    // Each way a client could get the list wrong is refused, and none of them uses the nonce up.
    expect(await rejection(verifySignIn({ ...req, peerSignatures: peerSignatures.slice(0, 2) }, opts(nonces)))).toBe('MissingPeerSignatureError')
    expect(await rejection(verifySignIn({ ...req, peerSignatures: [peerSignatures[0], peerSignatures[2], peerSignatures[1]] }, opts(nonces)))).toBe('BadPeerSignatureError')
    expect(await rejection(verifySignIn({ ...req, peerSignatures: [peerSignatures[0], peerSignatures[0], peerSignatures[0]] }, opts(nonces)))).toBe('BadPeerSignatureError')
    expect(await rejection(verifySignIn({ ...req, peerSignatures: 'x' }, opts(nonces)))).toBe('MissingPeerSignatureError')
    expect(await rejection(verifySignIn({ ...req, peerSignatures: [...peerSignatures.slice(0, 2), 42] }, opts(nonces)))).toBe('MissingPeerSignatureError')
    expect(await rejection(verifySignIn({ message, signature: req.signature, peerSignature: peerSignatures[0] }, opts(nonces)))).toBe('MissingPeerSignatureError')
    expect(await rejection(verifySignIn({ ...req, peerSignature: peerSignatures[0] }, opts(nonces)))).toBe('MissingPeerSignatureError')
    expect(await verifySignIn(req, opts(nonces))).toEqual({ address: tab.wallet.address, peerId: tab.peerId, peerIds: [tab.peerId, ...siblings.map(s => s.peerId)] })
    expect(await rejection(verifySignIn(req, opts(nonces)))).toBe('InvalidNonceError')
  })

  it('rejects a missing or wrong peerSignature', async () => {
    const tab = await newTab()
    const other = await newTab()
    const nonces = newNonces()
    const req = await signIn(tab, nonces)
    expect(await rejection(verifySignIn({ ...req, peerSignature: undefined }, opts(nonces)))).toBe('MissingPeerSignatureError')
    expect(await rejection(verifySignIn({ ...req, peerSignature: '' }, opts(nonces)))).toBe('MissingPeerSignatureError')
    // Signed by another tab's key: the named PeerId is not proven.
    expect(await rejection(verifySignIn({ ...req, peerSignature: await peerSign(other.key, req.message) }, opts(nonces)))).toBe('BadPeerSignatureError')
    // Right key, other bytes.
    expect(await rejection(verifySignIn({ ...req, peerSignature: await peerSign(tab.key, req.message + ' ') }, opts(nonces)))).toBe('BadPeerSignatureError')
    expect(await rejection(verifySignIn({ ...req, peerSignature: '!!not base64!!' }, opts(nonces)))).toBe('BadPeerSignatureError')
    // The same signature spelled without its padding (found by siwe.fuzz.test.ts): one spelling only.
    expect(req.peerSignature).toMatch(/=$/)
    expect(await rejection(verifySignIn({ ...req, peerSignature: req.peerSignature.replace(/=+$/, '') }, opts(nonces)))).toBe('BadPeerSignatureError')
  })
})
