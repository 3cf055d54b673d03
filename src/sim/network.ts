// Simulated links between peers: each peer has a bandwidth and a round-trip time to the
// internet's core; a transfer waits for the sender's uplink (one tensor at a time), takes
// bytes / min(both bandwidths), and arrives a one-way latency later. Tensors carry a tiny payload
// but are charged their real size (B·T·C floats).
import { codecOf } from '../codec/registry.ts'
import type { HopSigner, InboundTensor, OutboundTensor, TensorTransport } from '../train/swarm/transport.ts'
import type { SyncWeights } from '../train/swarm/replica-sync.ts'
import type { VirtualClock } from './virtual-clock.ts'

export interface SimLink {
  /** Mbit/s, both directions. */
  mbps: number
  /** Round-trip time to the core, ms. */
  rttMs: number
}

export interface SimEndpoint {
  id: string
  link: SimLink
  alive: boolean
  /** When this peer's uplink is free again. */
  upFreeAt: number
  /** Takes custody of a tensor (throws or rejects to refuse). */
  accept: (t: InboundTensor) => void | Promise<void>
  provideWeights: (step: number | 'latest', from: string) => Promise<SyncWeights | null>
  /** Bytes of this peer's stage weights, for transfer times. */
  weightBytes: number
  bytesSent: number
}

export class SimNetwork {
  readonly #clock: VirtualClock
  readonly #peers = new Map<string, SimEndpoint>()
  /** Bytes of one (B, T, C) tensor on the wire. */
  readonly tensorBytes: number
  /** Activation and gradient bytes carried (the boundary traffic). */
  tensorBytesSent = 0

  constructor (clock: VirtualClock, tensorBytes: number) {
    this.#clock = clock
    this.tensorBytes = tensorBytes
  }

  add (p: SimEndpoint): void { this.#peers.set(p.id, p) }
  get (id: string): SimEndpoint | undefined { return this.#peers.get(id) }

  /** One-way latency between two peers, ms. */
  #latency (a: SimLink, b: SimLink): number { return (a.rttMs + b.rttMs) / 4 }

  /** Occupies `from`'s uplink for `bytes` towards `to`; resolves on arrival. */
  async #transfer (from: SimEndpoint, to: SimEndpoint, bytes: number, extraMs = 0): Promise<void> {
    const now = this.#clock.now()
    const start = Math.max(now, from.upFreeAt)
    const ms = bytes * 8 / (Math.min(from.link.mbps, to.link.mbps) * 1e6) * 1000
    from.upFreeAt = start + ms
    from.bytesSent += bytes
    await this.#clock.sleep(start + ms - now + this.#latency(from.link, to.link) + extraMs)
  }

  transportFor (me: string, signer: HopSigner): TensorTransport {
    return {
      send: async (to, t: OutboundTensor) => {
        const a = this.#peers.get(me)!
        const b = this.#peers.get(to)
        const t0 = this.#clock.now()
        if (b == null || !b.alive || !a.alive) {
          await this.#clock.sleep(2 * this.#latency(a.link, b?.link ?? a.link)) // a closed connection fails fast
          throw Object.assign(new Error('connection closed'), { name: 'TruncatedError' })
        }
        // One event per send: the receiver takes custody when the ack would reach the sender (it
        // starts one one-way latency late, a small pessimism that halves the simulator's events).
        await this.#transfer(a, b, this.tensorBytes, this.#latency(a.link, b.link))
        this.tensorBytesSent += this.tensorBytes
        if (!b.alive || !a.alive) throw Object.assign(new Error('connection closed'), { name: 'TruncatedError' })
        // The digest covers what crossed the wire (the codec's encoding), as on the real transport.
        const data = t.wire?.codec != null ? codecOf(t.wire.codec.name).decode(t.wire.payload, [t.data.length]) : t.data
        await b.accept({ ...t, data, from: me, sha256: await signer.digest(t.wire?.payload ?? t.data) }) // throws → a nack
        return { ms: this.#clock.now() - t0, bytes: this.tensorBytes }
      },
      connected: peer => this.#peers.get(peer)?.alive === true,
      warm: async () => {},
      fetchWeights: async (peer, step, _n, timeoutMs) => {
        const a = this.#peers.get(peer)
        const b = this.#peers.get(me)!
        if (a == null || !a.alive) throw Object.assign(new Error('peer gone'), { name: 'WeightsUnavailableError' })
        const deadline = this.#clock.now() + timeoutMs
        const w = await a.provideWeights(step, me).catch(() => null)
        if (w == null || !a.alive) throw Object.assign(new Error('no weights'), { name: 'WeightsUnavailableError' })
        // Weights stream beside the tensors (WebRTC interleaves streams): half the link, not its FIFO.
        a.bytesSent += a.weightBytes
        await this.#clock.sleep(a.weightBytes * 8 / (Math.min(a.link.mbps, b.link.mbps) / 2 * 1e6) * 1000 + this.#latency(a.link, b.link))
        if (this.#clock.now() > deadline) throw Object.assign(new Error('weights request timed out'), { name: 'WeightsUnavailableError' })
        return w
      }
    }
  }
}

/** Receipts without cryptography: the simulator checks routing, not signatures. */
export function simSigner (me: string): HopSigner {
  return {
    sign: async hop => ({ receipt: { campaign: 'sim', from: me, ...hop }, fromSig: '' }),
    countersign: async r => ({ ...r, toSig: '' }),
    digest: async data => `${data.length}:${data[0] ?? 0}`
  }
}
