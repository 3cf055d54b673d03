import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { formatShareLink, isPin, parseCampaignPath } from './share-link.ts'
import { matchesPin, signEpochRoot, trackerKeyPin, verifyEpochRootPinned } from '../ledger/merkle.ts'

const ID = '0123456789abcdef0123456789abcdef'
const newPeer = async (): Promise<{ key: Awaited<ReturnType<typeof generateKeyPair>>, id: string }> => {
  const key = await generateKeyPair('Ed25519')
  return { key, id: peerIdFromPrivateKey(key).toString() }
}

describe('share links', () => {
  it('formats a short pinned link and parses it back', async () => {
    const { id: tracker } = await newPeer()
    const link = formatShareLink('https://train.test/', ID, tracker)
    expect(link).toMatch(/^https:\/\/train\.test\/#\/c\/[0-9a-f]{32}\?key=[0-9a-f]{32}$/)
    expect(link.length).toBeLessThan(100)
    const path = new URL(link).hash.slice(1)
    expect(parseCampaignPath(path)).toEqual({ id: ID, pin: trackerKeyPin(tracker) })
    expect(isPin(trackerKeyPin(tracker))).toBe(true)
  })

  it('still opens old links and typed URLs, unpinned', () => {
    expect(formatShareLink('http://localhost:8080', ID)).toBe(`http://localhost:8080/#/c/${ID}`)
    expect(parseCampaignPath(`/c/${ID}`)).toEqual({ id: ID, pin: null })
    expect(parseCampaignPath(`/c/${ID}?other=1`)).toEqual({ id: ID, pin: null })
  })

  it('keeps a malformed pin as given (it matches no key) and refuses what is not a campaign path', async () => {
    const { id: tracker } = await newPeer()
    expect(parseCampaignPath(`/c/${ID}?key=xyz`)).toEqual({ id: ID, pin: 'xyz' })
    expect(isPin('xyz')).toBe(false)
    expect(matchesPin(tracker, 'xyz')).toBe(false)
    expect(matchesPin('not a peer id', trackerKeyPin(tracker))).toBe(false)
    expect(parseCampaignPath(`/c/${ID.toUpperCase()}`)).toBeNull()
    expect(parseCampaignPath(`/c/${ID}/x`)).toBeNull()
    expect(parseCampaignPath('/me')).toBeNull()
  })
})

describe('a pinned tracker key', () => {
  const root = { campaign: ID, epoch: 0, first: 0, count: 3, root: 'ab'.repeat(32) }

  it('passes a root signed by the pinned key and refuses one signed by any other Ed25519 key', async () => {
    const tracker = await newPeer()
    const other = await newPeer()
    const pin = trackerKeyPin(tracker.id)
    expect(trackerKeyPin(other.id)).not.toBe(pin)
    expect(await verifyEpochRootPinned(await signEpochRoot(root, tracker.key), pin)).toBe(true)
    // A server that swapped its key signs validly with the new one: the pin refuses it.
    expect(await verifyEpochRootPinned(await signEpochRoot(root, other.key), pin)).toBe(false)
  })

  it('refuses a root that names the pinned key but carries another key\'s signature, or was altered', async () => {
    const tracker = await newPeer()
    const other = await newPeer()
    const pin = trackerKeyPin(tracker.id)
    const forged = { ...(await signEpochRoot(root, other.key)), tracker: tracker.id }
    expect(await verifyEpochRootPinned(forged, pin)).toBe(false)
    const altered = { ...(await signEpochRoot(root, tracker.key)), count: 4 }
    expect(await verifyEpochRootPinned(altered, pin)).toBe(false)
    expect(await verifyEpochRootPinned(null as never, pin)).toBe(false)
  })
})
