import { describe, expect, it } from 'vitest'
import { LEAF_FLOATS, openProof, outputTree } from './output-merkle.ts'

const output = (n: number, seed = 1): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed))

describe('output Merkle tree', () => {
  for (const n of [1, 7, LEAF_FLOATS, LEAF_FLOATS + 1, 5 * LEAF_FLOATS - 3, 8 * 64 * 64]) {
    it(`opens every sampled element of a ${n}-float output under its root`, () => {
      const data = output(n)
      const tree = outputTree(data)
      for (const i of [0, n - 1, Math.floor(n / 2), Math.floor(n / 3)]) {
        expect(openProof(tree.root, n, i, tree.prove(i))).toBe(data[i])
      }
    })
  }

  it('a changed element, another leaf, a wrong index, a short path or another root do not open', () => {
    const data = output(1000)
    const tree = outputTree(data)
    const proof = tree.prove(300)
    const tampered = data.slice(); tampered[301] += 1e-3
    expect(openProof(tree.root, 1000, 300, outputTree(tampered).prove(300))).toBeNull()
    expect(openProof(tree.root, 1000, 300, tree.prove(10))).toBeNull()
    expect(openProof(tree.root, 1000, 300 + LEAF_FLOATS, proof)).toBeNull()
    expect(openProof(tree.root, 1000, 300, { ...proof, path: proof.path.slice(1) })).toBeNull()
    expect(openProof(outputTree(output(1000, 2)).root, 1000, 300, proof)).toBeNull()
    expect(openProof(tree.root, 1000, 300, { leaf: 42, path: 'x' })).toBeNull()
    expect(openProof(tree.root, 1000, 1000, proof)).toBeNull()
  })

  it('a replica cannot commit first and choose its values later: any other output gives another root', () => {
    const a = outputTree(output(4096)).root
    const b = output(4096); b[4095] = -b[4095]
    expect(outputTree(b).root).not.toBe(a)
  })
})
