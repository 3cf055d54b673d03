// A Map that holds at most `max` keys, dropping the least recently used: per-client and
// per-identity bookkeeping stays bounded however many clients or identities show up.
export class BoundedMap<K, V> {
  readonly #map = new Map<K, V>()
  constructor (readonly max: number) {
    if (!(max >= 1)) throw new RangeError('BoundedMap needs max ≥ 1')
  }

  get size (): number { return this.#map.size }

  get (key: K): V | undefined {
    const v = this.#map.get(key)
    if (v !== undefined) { this.#map.delete(key); this.#map.set(key, v) }
    return v
  }

  set (key: K, value: V): this {
    this.#map.delete(key)
    this.#map.set(key, value)
    while (this.#map.size > this.max) this.#map.delete(this.#map.keys().next().value as K)
    return this
  }

  delete (key: K): boolean { return this.#map.delete(key) }
}
