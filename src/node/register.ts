// Preloaded by every Node entry (`tsx --import ./src/node/register.ts …`).
import { register } from 'node:module'

// libp2p 3 uses Promise.withResolvers, which Node 20 lacks (ENVIRONMENT.md).
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T> () {
      let resolve!: (v: T | PromiseLike<T>) => void
      let reject!: (e: unknown) => void
      const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
      return { promise, resolve, reject }
    }
  })
}

register('./raw-loader.mjs', import.meta.url)
