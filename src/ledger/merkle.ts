// Merkle trees over ledger record hashes, as in Certificate Transparency (RFC 9162 §2.1):
// leaves and nodes are domain-separated (0x00 / 0x01 prefixes, so a node can't pose as a
// leaf), and an odd subtree is split at the largest power of two, never padded by duplication
// (which would let two different lists share a root, CVE-2012-2459). Browser and Node.
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { fromString as bytesFromString } from 'uint8arrays/from-string'
import { toString as bytesToString } from 'uint8arrays/to-string'
import type { PrivateKey } from '@libp2p/interface'
import { sha256Hex, taggedBytes } from './canonical.ts'
import { EPOCH_ROOT_TAG } from './constants.ts'

/** Inclusion proof of leaf `index` in a tree of `size` leaves: sibling hashes, leaf to root. */
export interface MerkleProof {
  index: number
  size: number
  path: string[]
}

const hexBytes = (hex: string): Uint8Array => bytesFromString(hex, 'base16')

function hashWithPrefix (prefix: number, ...parts: string[]): string {
  const bytes = parts.map(hexBytes)
  const buf = new Uint8Array(1 + bytes.reduce((n, b) => n + b.length, 0))
  buf[0] = prefix
  let at = 1
  for (const b of bytes) { buf.set(b, at); at += b.length }
  return sha256Hex(buf)
}

/** Leaf hash of a record hash (64 lower-case hex chars). */
export const leafHash = (leaf: string): string => hashWithPrefix(0x00, leaf)
export const nodeHash = (left: string, right: string): string => hashWithPrefix(0x01, left, right)

/** Root of an empty tree: sha256 of nothing (RFC 9162). */
export const EMPTY_ROOT = sha256Hex(new Uint8Array(0))

/** Largest power of two strictly below n (n ≥ 2). */
function split (n: number): number {
  let k = 1
  while (k * 2 < n) k *= 2
  return k
}

function subtreeRoot (leaves: readonly string[], lo: number, hi: number): string {
  if (hi - lo === 1) return leafHash(leaves[lo])
  const k = split(hi - lo)
  return nodeHash(subtreeRoot(leaves, lo, lo + k), subtreeRoot(leaves, lo + k, hi))
}

export function merkleRoot (leaves: readonly string[]): string {
  return leaves.length === 0 ? EMPTY_ROOT : subtreeRoot(leaves, 0, leaves.length)
}

export function merkleProof (leaves: readonly string[], index: number): MerkleProof {
  if (!Number.isSafeInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`no leaf ${index} in a tree of ${leaves.length}`)
  }
  const path: string[] = []
  // Walk down from the root, then reverse: the proof lists siblings from the leaf up.
  let lo = 0
  let hi = leaves.length
  while (hi - lo > 1) {
    const mid = lo + split(hi - lo)
    if (index < mid) { path.push(subtreeRoot(leaves, mid, hi)); hi = mid } else { path.push(subtreeRoot(leaves, lo, mid)); lo = mid }
  }
  return { index, size: leaves.length, path: path.reverse() }
}

/**
 * Whether `leaf` (a record hash) is leaf `proof.index` of a tree of `proof.size` leaves with
 * this root (RFC 9162 §2.1.3.2). The root alone does not pin the size; verifyInclusion also
 * checks it against a signed epoch root's count.
 */
export function verifyProof (leaf: string, proof: MerkleProof, root: string): boolean {
  const { index, size, path } = proof ?? {}
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size || !Array.isArray(path)) return false
  try {
    let fn = index
    let sn = size - 1
    let r = leafHash(leaf)
    for (const p of path) {
      if (sn === 0) return false
      if ((fn & 1) === 1 || fn === sn) {
        r = nodeHash(p, r)
        while ((fn & 1) === 0 && fn !== 0) { fn >>>= 1; sn >>>= 1 }
      } else {
        r = nodeHash(r, p)
      }
      fn >>>= 1
      sn >>>= 1
    }
    return sn === 0 && r === root
  } catch {
    return false // a path element that is not hex
  }
}

// ---- signed epoch roots

export interface EpochRoot {
  campaign: string
  epoch: number
  /** Index of the epoch's first record in the ledger. */
  first: number
  /** Records in the epoch so far (an open epoch's root grows). */
  count: number
  root: string
}

export interface SignedEpochRoot extends EpochRoot {
  /** The tracker's PeerId. */
  tracker: string
  /** Standard base64 Ed25519 signature over the tag + canonical JSON of the EpochRoot fields. */
  signature: string
}

const epochBytes = (r: EpochRoot): Uint8Array =>
  taggedBytes(EPOCH_ROOT_TAG, { campaign: r.campaign, epoch: r.epoch, first: r.first, count: r.count, root: r.root })

export async function signEpochRoot (root: EpochRoot, key: PrivateKey): Promise<SignedEpochRoot> {
  const { campaign, epoch, first, count } = root
  return {
    campaign, epoch, first, count, root: root.root,
    tracker: peerIdFromPrivateKey(key).toString(),
    signature: bytesToString(await key.sign(epochBytes(root)), 'base64pad')
  }
}

/** Whether the root is signed by `tracker` (the PeerId the app trusts, from `GET /api/health`). */
export async function verifyEpochRoot (signed: SignedEpochRoot, tracker: string): Promise<boolean> {
  try {
    if (signed.tracker !== tracker) return false
    const key = peerIdFromString(tracker).publicKey
    return key != null && await key.verify(epochBytes(signed), bytesFromString(signed.signature, 'base64pad'))
  } catch {
    return false
  }
}

/** Whether record hash `leaf` is in the epoch (signature checked apart, with verifyEpochRoot). */
export function verifyInclusion (leaf: string, proof: MerkleProof, epoch: EpochRoot): boolean {
  return proof?.size === epoch.count && verifyProof(leaf, proof, epoch.root)
}

// ---- the tracker's key, pinned by the share link

/** Hex characters of a pin: 128 bits, so finding another key with the same pin costs ~2^128 work. */
export const PIN_HEX_CHARS = 32

/**
 * The pin a share link carries for the tracker whose PeerId this is: the first 128 bits of the
 * SHA-256 of its public key (protobuf, as in the PeerId), hex. Shorter than the PeerId (52
 * characters), and the app checks it against the key the tracker presents. Throws on a PeerId
 * that holds no public key.
 */
export function trackerKeyPin (tracker: string): string {
  const key = peerIdFromString(tracker).publicKey
  if (key == null) throw new TypeError(`${tracker} carries no public key`)
  return sha256Hex(publicKeyToProtobuf(key)).slice(0, PIN_HEX_CHARS)
}

/** Whether `tracker` is the key `pin` names (false for a malformed PeerId or pin). */
export function matchesPin (tracker: string, pin: string): boolean {
  try {
    return trackerKeyPin(tracker) === pin
  } catch {
    return false
  }
}

/**
 * Whether the root is signed by the key the share link pinned: the PeerId the root names must
 * hash to `pin`, and its signature must check out. The server's word on its own key plays no part.
 */
export async function verifyEpochRootPinned (signed: SignedEpochRoot, pin: string): Promise<boolean> {
  return typeof signed?.tracker === 'string' && matchesPin(signed.tracker, pin) && await verifyEpochRoot(signed, signed.tracker)
}
