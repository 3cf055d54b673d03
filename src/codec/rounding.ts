// The random numbers behind stochastic rounding, identical in TypeScript and WGSL (shaders/q8.wgsl
// has the same three lines): a PCG hash of (seed, element index) gives a uniform u in [0, 1) with
// 24 bits, exact in float32. No state: element i's draw does not depend on which thread or tab
// computes it, so encoding is deterministic given the seed.
//
// Hash: "PCG-RXS-M-XS" as a hash function, Jarzynski & Olano, "Hash Functions for GPU Rendering",
// JCGT 9(3), 2020 (the constants are theirs).

/** PCG hash of a u32 (as a non-negative number). */
export function pcgHash (v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0
  return ((word >>> 22) ^ word) >>> 0
}

/** Element `index`'s uniform draw in [0, 1) for `seed` (24 bits: exactly representable in float32). */
export function uniform24 (seed: number, index: number): number {
  return (pcgHash((pcgHash(seed) ^ index) >>> 0) >>> 8) / 16777216
}

/**
 * The rounding seed of one boundary tensor: from the campaign's seed, the microbatch, the sending
 * stage and the direction, so no two tensors of a campaign share their draws, and a resend of the
 * same tensor encodes to the same bytes (the same digest).
 */
export function roundingSeed (campaignSeed: number, microbatch: number, stage: number, kind: 'activations' | 'gradients'): number {
  let h = pcgHash(campaignSeed >>> 0)
  h = pcgHash((h ^ (microbatch >>> 0)) >>> 0)
  h = pcgHash((h ^ Math.floor(microbatch / 2 ** 32)) >>> 0)
  return pcgHash((h ^ ((stage * 2 + (kind === 'gradients' ? 1 : 0)) >>> 0)) >>> 0)
}
