// Property-based fuzzing of SIWE sign-in (fast-check): arbitrary text and mutated real messages
// through the parser (10,000 cases), and hostile sign-in bodies through verifySignIn (real
// signatures; fewer cases, since each that gets past the cheap checks costs a signature
// recovery). Every refusal is one of identity/errors.ts's named errors with a 4xx status; no
// modified message or signature is ever accepted, and a refused attempt never uses up the nonce.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Wallet } from 'ethers'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { parseSiwe, verifySignIn } from './verify.ts'
import { buildSignInMessage } from './siwe-message.ts'
import { signWithPeerKey } from './sign-in.ts'
import { createNonceStore } from './nonce-store.ts'
import { IdentityError } from './errors.ts'

const ORIGIN = 'http://127.0.0.1:8080'
const DOMAIN = '127.0.0.1:8080'

function refusedByName (err: unknown): void {
  expect(err).toBeInstanceOf(IdentityError)
  const status = (err as { status?: number }).status
  expect(status != null && status >= 400 && status < 500, `${(err as Error).name} has status ${String(status)}`).toBe(true)
  expect((err as Error).message).toMatch(/^[^\n]+$/)
}

/** Replaces, inserts or deletes characters at random places. */
const mutation = fc.array(fc.record({ at: fc.nat(), op: fc.constantFrom('replace', 'insert', 'delete'), text: fc.string({ minLength: 1, maxLength: 3 }) }), { minLength: 1, maxLength: 3 })
function mutate (s: string, ms: Array<{ at: number, op: string, text: string }>): string {
  for (const m of ms) {
    const i = m.at % (s.length + 1)
    s = m.op === 'insert' ? s.slice(0, i) + m.text + s.slice(i) : m.op === 'delete' ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i) + m.text + s.slice(i + m.text.length)
  }
  return s
}

describe('SIWE fuzz', async () => {
  const wallet = Wallet.createRandom()
  const key = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(key).toString()
  const template = buildSignInMessage({ address: wallet.address, peerId, nonce: 'abcdefgh12345678', origin: ORIGIN })

  it('the parser: any text or a mutated message parses or fails with MalformedMessageError (10,000 cases)', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 600 }), mutation.map(m => mutate(template, m)), fc.anything()), text => {
      try {
        const m = parseSiwe(text)
        expect(typeof m.address).toBe('string')
      } catch (err) {
        refusedByName(err)
        expect((err as Error).name).toBe('MalformedMessageError')
      }
    }), { numRuns: 10_000 })
  })

  it('sign-in: hostile bodies and any change to a signed message are refused, and the nonce survives (1,000 cases)', async () => {
    const nonces = createNonceStore()
    const nonce = nonces.issue()
    const message = buildSignInMessage({ address: wallet.address, peerId, nonce, origin: ORIGIN })
    const signature = await wallet.signMessage(message)
    const peerSignature = await signWithPeerKey(key, message)
    const body = fc.oneof(
      fc.anything(),
      fc.record({ message: mutation.map(m => mutate(message, m)), signature: fc.constant(signature), peerSignature: fc.constant(peerSignature) }),
      fc.record({ message: fc.constant(message), signature: mutation.map(m => mutate(signature, m)), peerSignature: fc.constant(peerSignature) }),
      fc.record({ message: fc.constant(message), signature: fc.constant(signature), peerSignature: fc.oneof(mutation.map(m => mutate(peerSignature, m)), fc.anything()) }),
      fc.record({ message: fc.constant(message), signature: fc.oneof(fc.anything(), fc.constant('0x' + '00'.repeat(65))), peerSignature: fc.constant(peerSignature) })
    )
    await fc.assert(fc.asyncProperty(body, async b => {
      // A mutation that changes nothing is the honest body: skip it, it would use the nonce up. Hex
      // is case-blind, so a signature that differs only in the case of its digits is unchanged too.
      const o = typeof b === 'object' && b != null ? b as Record<string, unknown> : null
      if (o != null && o.message === message && typeof o.signature === 'string' && o.signature.toLowerCase() === signature.toLowerCase() && o.peerSignature === peerSignature) return
      const r = await verifySignIn(b, { domain: DOMAIN, nonces, now: Date.now() }).then(() => 'accepted', (err: unknown) => err)
      expect(r).not.toBe('accepted')
      refusedByName(r)
    }), { numRuns: 1_000 })
    // The honest body still signs in: no refused attempt burnt the nonce.
    expect(await verifySignIn({ message, signature, peerSignature }, { domain: DOMAIN, nonces, now: Date.now() })).toEqual({ address: wallet.address, peerId, peerIds: [peerId] })
  })
})
