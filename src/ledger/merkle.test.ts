import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { sha256Hex } from './canonical.ts'
import { EMPTY_ROOT, leafHash, merkleProof, merkleRoot, nodeHash, signEpochRoot, verifyEpochRoot, verifyInclusion, verifyProof } from './merkle.ts'

const leaves = (n: number): string[] => Array.from({ length: n }, (_, i) => sha256Hex(new TextEncoder().encode(`entry ${i}`)))

describe('Merkle tree', () => {
  it('follows RFC 9162 for small trees', () => {
    const [a, b, c] = leaves(3)
    expect(merkleRoot([])).toBe(EMPTY_ROOT)
    expect(merkleRoot([a])).toBe(leafHash(a))
    expect(merkleRoot([a, b, c])).toBe(nodeHash(nodeHash(leafHash(a), leafHash(b)), leafHash(c)))
    // No duplication padding: [a, b, c] and [a, b, c, c] differ.
    expect(merkleRoot([a, b, c, c])).not.toBe(merkleRoot([a, b, c]))
  })

  it('proves every leaf of trees of every size up to 17', () => {
    for (let n = 1; n <= 17; n++) {
      const ls = leaves(n)
      const root = merkleRoot(ls)
      ls.forEach((leaf, i) => { expect(verifyProof(leaf, merkleProof(ls, i), root), `${i}/${n}`).toBe(true) })
    }
  })

  it('rejects forged proofs', () => {
    const ls = leaves(11)
    const root = merkleRoot(ls)
    const p = merkleProof(ls, 5)
    expect(verifyProof(ls[4], p, root)).toBe(false) // another leaf
    expect(verifyProof(ls[5], { ...p, index: 4 }, root)).toBe(false) // another position
    expect(verifyProof(ls[5], { ...p, size: 6 }, root)).toBe(false) // another tree shape
    // The root does not fix the size on its own (this proof fits 12 leaves too): the signed
    // epoch root's count does, which verifyInclusion checks.
    expect(verifyProof(ls[5], { ...p, size: 12 }, root)).toBe(true)
    const epoch = { campaign: 'demo', epoch: 0, first: 0, count: 11, root }
    expect(verifyInclusion(ls[5], p, epoch)).toBe(true)
    expect(verifyInclusion(ls[5], { ...p, size: 12 }, epoch)).toBe(false)
    expect(verifyProof(ls[5], { ...p, path: p.path.slice(1) }, root)).toBe(false) // shortened
    expect(verifyProof(ls[5], { ...p, path: [...p.path, p.path[0]] }, root)).toBe(false) // lengthened
    expect(verifyProof(ls[5], { ...p, path: [leaves(1)[0], ...p.path.slice(1)] }, root)).toBe(false) // wrong sibling
    expect(verifyProof(ls[5], { ...p, path: ['zz', ...p.path.slice(1)] }, root)).toBe(false) // not hex
    expect(verifyProof(ls[5], p, merkleRoot(leaves(12)))).toBe(false) // another root
    // A node posing as a leaf: its children's leaf hashes as a 2-leaf "proof" must not verify.
    const inner = nodeHash(leafHash(ls[0]), leafHash(ls[1]))
    expect(verifyProof(inner, { index: 0, size: 1, path: [] }, inner)).toBe(false)
  })

  it('signs epoch roots with the tracker key', async () => {
    const key = await generateKeyPair('Ed25519')
    const tracker = peerIdFromPrivateKey(key).toString()
    const signed = await signEpochRoot({ campaign: 'demo', epoch: 0, first: 0, count: 11, root: merkleRoot(leaves(11)) }, key)
    expect(await verifyEpochRoot(signed, tracker)).toBe(true)
    expect(await verifyEpochRoot({ ...signed, count: 10 }, tracker)).toBe(false)
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    expect(await verifyEpochRoot({ ...signed, tracker: other }, other)).toBe(false)
  })
})
