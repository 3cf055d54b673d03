// Which microbatches a campaign's ledger already credits. A microbatch id names one window of
// one optimizer step (DESIGN.md), so it may be credited once in a campaign's life: a second
// entry for it is double credit (a tracker restart that forgot its done set, or a replayed
// completion), never new work. Pure (browser and Node); the file store reserves an id before
// it writes and releases it if the write fails.
import { DuplicateEntryError } from './errors.ts'

export class CreditedSet {
  /** microbatch id → ledger index of the entry that credits it (-1 while its write is in flight). */
  readonly #at = new Map<number, number>()

  has (microbatch: number): boolean {
    return this.#at.has(microbatch)
  }

  /** Index of the entry crediting `microbatch`, if one is committed. */
  indexOf (microbatch: number): number | undefined {
    const i = this.#at.get(microbatch)
    return i == null || i < 0 ? undefined : i
  }

  /** Claims the id before its entry is written; throws DuplicateEntryError if already credited. */
  reserve (microbatch: number): void {
    if (this.#at.has(microbatch)) {
      const i = this.#at.get(microbatch)!
      throw new DuplicateEntryError(microbatch, i < 0 ? undefined : i)
    }
    this.#at.set(microbatch, -1)
  }

  /** The reserved entry is on disk at `index`. */
  commit (microbatch: number, index: number): void {
    this.#at.set(microbatch, index)
  }

  /** The write failed: the id may be credited later. */
  release (microbatch: number): void {
    if (this.#at.get(microbatch) === -1) this.#at.delete(microbatch)
  }

  /** For loading a file: returns why line `index` is a duplicate, or undefined and records it. */
  load (microbatch: number, index: number): string | undefined {
    const first = this.#at.get(microbatch)
    if (first != null) return `microbatch ${microbatch} is credited twice (first at line ${first + 1})`
    this.#at.set(microbatch, index)
    return undefined
  }
}
