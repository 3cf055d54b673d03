// A Merkle tree over a stage's output (float32), so a replica can commit to all of it with 32
// bytes and later open only the elements the tracker picks (DESIGN.md "Verification"). Leaves are
// runs of LEAF_FLOATS floats, hashed as sha256(0x00 ‖ bytes); inner nodes sha256(0x01 ‖ l ‖ r); an
// odd node at the end of a level is carried up unchanged. The same code builds proofs in the tab
// and checks them on the tracker.
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js'
import { fromString as bytesFromString } from 'uint8arrays/from-string'
import { toString as bytesToString } from 'uint8arrays/to-string'

export const LEAF_FLOATS = 128

export interface OutputProof {
  /** The leaf holding the element: its floats' little-endian bytes, base64. */
  leaf: string
  /** Sibling hashes from the leaf up to the root (hex); null where the node was carried up. */
  path: Array<string | null>
}

export interface OutputTree {
  root: string
  numel: number
  prove(index: number): OutputProof
}

const LEAF_TAG = Uint8Array.of(0)
const NODE_TAG = Uint8Array.of(1)

function hashLeaf (bytes: Uint8Array): Uint8Array {
  return sha256.create().update(LEAF_TAG).update(bytes).digest()
}

function hashNode (l: Uint8Array, r: Uint8Array): Uint8Array {
  return sha256.create().update(NODE_TAG).update(l).update(r).digest()
}

export const leafCount = (numel: number): number => Math.max(1, Math.ceil(numel / LEAF_FLOATS))

function leafBytes (data: Float32Array, leaf: number): Uint8Array {
  const start = leaf * LEAF_FLOATS
  const end = Math.min(data.length, start + LEAF_FLOATS)
  // Float32Array is little-endian on every platform a tab or the tracker runs on.
  return new Uint8Array(data.buffer, data.byteOffset + start * 4, (end - start) * 4)
}

export function outputTree (data: Float32Array): OutputTree {
  const levels: Uint8Array[][] = [Array.from({ length: leafCount(data.length) }, (_, i) => hashLeaf(leafBytes(data, i)))]
  while (levels[levels.length - 1].length > 1) {
    const below = levels[levels.length - 1]
    const up: Uint8Array[] = []
    for (let i = 0; i < below.length; i += 2) up.push(i + 1 < below.length ? hashNode(below[i], below[i + 1]) : below[i])
    levels.push(up)
  }
  return {
    root: bytesToHex(levels[levels.length - 1][0]),
    numel: data.length,
    prove (index) {
      if (!Number.isInteger(index) || index < 0 || index >= data.length) throw new RangeError(`index ${index} outside 0..${data.length - 1}`)
      let pos = Math.floor(index / LEAF_FLOATS)
      const leaf = bytesToString(leafBytes(data, pos), 'base64')
      const path: Array<string | null> = []
      for (let l = 0; l < levels.length - 1; l++) {
        const sibling = pos ^ 1
        path.push(sibling < levels[l].length ? bytesToHex(levels[l][sibling]) : null)
        pos >>= 1
      }
      return { leaf, path }
    }
  }
}

/**
 * The value at `index` if `proof` opens it under `root` for an output of `numel` floats; null if
 * the proof is malformed or does not lead to the root.
 */
export function openProof (root: string, numel: number, index: number, proof: unknown): number | null {
  if (typeof proof !== 'object' || proof == null) return null
  const { leaf, path } = proof as Partial<OutputProof>
  if (typeof leaf !== 'string' || !Array.isArray(path) || !Number.isInteger(index) || index < 0 || index >= numel) return null
  let pos = Math.floor(index / LEAF_FLOATS)
  const expectFloats = Math.min(LEAF_FLOATS, numel - pos * LEAF_FLOATS)
  let bytes: Uint8Array
  try {
    bytes = Uint8Array.from(bytesFromString(leaf, 'base64'))
  } catch {
    return null
  }
  if (bytes.length !== expectFloats * 4) return null
  let width = leafCount(numel)
  let depth = 0
  for (let w = width; w > 1; w = Math.ceil(w / 2)) depth++
  if (path.length !== depth) return null
  let h = hashLeaf(bytes)
  for (const sibling of path) {
    const s = pos ^ 1
    if (s < width) {
      if (typeof sibling !== 'string' || !/^[0-9a-f]{64}$/.test(sibling)) return null
      const other = hexToBytes(sibling)
      h = (pos & 1) === 0 ? hashNode(h, other) : hashNode(other, h)
    } else if (sibling !== null) {
      return null
    }
    pos >>= 1
    width = Math.ceil(width / 2)
  }
  if (bytesToHex(h) !== root) return null
  return new DataView(bytes.buffer, bytes.byteOffset).getFloat32((index % LEAF_FLOATS) * 4, true)
}
