import { describe, expect, it } from 'vitest'
import { SiweMessage } from 'siwe'
import { Wallet } from 'ethers'
import { buildSignInMessage, formatSiweMessage, signInStatement } from './siwe-message.ts'

describe('SIWE message', () => {
  it('formats exactly as the siwe package does, and parses back', () => {
    const address = Wallet.createRandom().address
    const fields = {
      domain: 'localhost:5173', address, statement: signInStatement(address), uri: 'http://localhost:5173', version: '1' as const,
      chainId: 1, nonce: 'Abc123xyz9', issuedAt: '2026-01-01T00:00:00.000Z', expirationTime: '2026-01-01T00:05:00.000Z',
      resources: ['libp2p:12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN']
    }
    const text = formatSiweMessage(fields)
    expect(text).toBe(new SiweMessage(fields).prepareMessage())
    expect(new SiweMessage(text)).toMatchObject(fields)
    expect(formatSiweMessage({ ...fields, expirationTime: undefined, resources: undefined })).toBe(new SiweMessage({ ...fields, expirationTime: undefined, resources: undefined }).prepareMessage())
  })

  it('builds the sign-in message from the origin, nonce and PeerId', () => {
    const address = Wallet.createRandom().address
    const text = buildSignInMessage({ address: address.toLowerCase(), peerId: 'peer', nonce: 'nonce1234', origin: 'https://tabgrad.example:8443/x', now: Date.parse('2026-01-01T00:00:00Z') })
    const m = new SiweMessage(text)
    expect(m).toMatchObject({ domain: 'tabgrad.example:8443', uri: 'https://tabgrad.example:8443', address, chainId: 1, nonce: 'nonce1234', resources: ['libp2p:peer'] })
    expect(Date.parse(m.expirationTime!) - Date.parse(m.issuedAt!)).toBe(5 * 60_000)
    expect(() => buildSignInMessage({ address, peerId: 'peer', nonce: 'short', origin: 'http://x' })).toThrow()
  })
})
