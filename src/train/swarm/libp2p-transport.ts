// The network implementation of the swarm's transport: tensors over the tensor protocol on
// direct WebRTC connections (dialled through the relay when needed), weights over the weights
// protocol, and hop receipts signed with the tab's libp2p key.
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { TabLibp2p } from '../../net/tab-node.ts'
import { directConnection, isDirect } from '../../net/tab-node.ts'
import { sendTensor, tensorProtocol, type TensorProtocol } from '../../net/tensor-stream.ts'
import { fetchWeights, serveWeights, WEIGHTS_PROTOCOL, type WeightsRequest } from '../../net/weights.ts'
import { sha256, toHex } from '../../net/byte-stream.ts'
import { countersign, signAsSender } from '../../ledger/receipt.ts'
import type { HopSigner, InboundTensor, TensorMeta, TensorTransport } from './transport.ts'
import type { SyncWeights } from './replica-sync.ts'

export interface Libp2pTransportInit {
  node: TabLibp2p
  relayAddrs: string[]
  campaign: string
  stage: number
  /** (B, T, C) of every tensor this stage sends. */
  shape: [number, number, number]
}

export interface ServeInit {
  maxPayloadBytes: number
  /** Takes custody of a tensor (throw or reject to nack); its work runs after the ack. */
  onTensor: (t: InboundTensor) => void | Promise<void>
  /** A peer broke the tensor protocol: it was disconnected. */
  onViolation: (peer: string, err: Error) => void
  /** Weights for `from` (throw to refuse it, e.g. not a replica of this stage). */
  provideWeights: (req: WeightsRequest, from: string) => Promise<SyncWeights | null>
}

export interface Libp2pTransport extends TensorTransport {
  serve(init: ServeInit): Promise<void>
  stop(): Promise<void>
}

export function createLibp2pTransport (init: Libp2pTransportInit): Libp2pTransport {
  const { node } = init
  let protocol: TensorProtocol | undefined
  const connect = async (peer: string): ReturnType<typeof directConnection> => await directConnection(node, init.relayAddrs, peerIdFromString(peer))
  return {
    async send (to, t) {
      const res = await sendTensor(await connect(to), {
        campaign: init.campaign, microbatch: t.microbatch, routeStep: init.stage, kind: t.kind,
        optimizerStep: t.optimizerStep, shape: init.shape, meta: t.meta,
        data: t.data, ...(t.wire?.codec != null ? { encoded: { codec: t.wire.codec, payload: t.wire.payload } } : {})
      })
      return { ms: res.ms, bytes: res.bytes }
    },
    connected: peer => node.getConnections(peerIdFromString(peer)).some(c => c.status === 'open' && isDirect(c)),
    warm: async peer => { await connect(peer) },
    async fetchWeights (peer, step, expectElements, timeoutMs) {
      return await fetchWeights(await connect(peer), { campaign: init.campaign, stage: init.stage, step }, { expectElements, signal: AbortSignal.timeout(timeoutMs) })
    },
    async serve (s) {
      protocol = await tensorProtocol(node, {
        campaign: init.campaign,
        maxPayloadBytes: s.maxPayloadBytes,
        onTensor: t => {
          if (!(t.data instanceof Float32Array)) throw Object.assign(new Error('expected f32 data'), { name: 'DTypeError' })
          const meta = (typeof t.meta === 'object' && t.meta != null ? t.meta : {}) as TensorMeta
          return s.onTensor({ microbatch: t.microbatch, kind: t.kind, optimizerStep: t.optimizerStep, data: t.data, meta, from: t.from, sha256: t.sha256, shape: t.shape, payloadBytes: t.payloadBytes })
        },
        onViolation: (peer, err) => {
          s.onViolation(peer, err)
          void node.hangUp(peerIdFromString(peer)).catch(() => {})
        }
      })
      await node.handle(WEIGHTS_PROTOCOL, (stream, conn) => {
        void serveWeights(stream, conn.remotePeer.toString(), { campaign: init.campaign, provide: async (req, from) => await s.provideWeights(req, from) })
      }, { runOnLimitedConnection: false })
    },
    async disconnect (peer) {
      await node.hangUp(peerIdFromString(peer))
    },
    async stop () {
      await protocol?.stop().catch(() => {})
      await node.unhandle(WEIGHTS_PROTOCOL).catch(() => {})
    }
  }
}

/** Hop receipts signed with the tab's libp2p key (Ed25519). */
export function createKeySigner (campaign: string, me: string, key: PrivateKey): HopSigner {
  return {
    sign: async hop => await signAsSender({ campaign, from: me, ...hop }, key),
    countersign: async r => await countersign(r, key),
    digest: async data => toHex(await sha256(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)))
  }
}
