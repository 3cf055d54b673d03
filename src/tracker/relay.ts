// The tracker's libp2p node: a circuit-relay v2 server on WebSockets, so tabs can reach each
// other for WebRTC signalling, plus identify and gossipsub for campaign pubsub and discovery.
// It listens on loopback only; the tracker's HTTP port forwards WebSocket upgrades to it.
import { createLibp2p, type Libp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { circuitRelayServer, type CircuitRelayService } from '@libp2p/circuit-relay-v2'
import { gossipsub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import {
  MAX_RELAY_CONNECTIONS, MAX_RELAY_RESERVATIONS, RELAY_MAX_PENDING_UPGRADES, RELAY_CIRCUIT_DATA_BYTES, RELAY_CIRCUIT_DURATION_MS,
  RELAY_HOP_TIMEOUT_MS, RELAY_MAX_HOP_STREAMS, RELAY_RESERVATION_TTL_MS
} from './constants.ts'
import { PEER_DISCOVERY_TOPIC } from '../net/constants.ts'

export interface RelayInit {
  privateKey: PrivateKey
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port. @default 0 */
  port?: number
}

export type RelayNode = Libp2p<{ identify: Identify, relay: CircuitRelayService, pubsub: ReturnType<ReturnType<typeof gossipsub>> }>

export async function createRelay (init: RelayInit): Promise<RelayNode> {
  const node = await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: [`/ip4/${init.host ?? '127.0.0.1'}/tcp/${init.port ?? 0}/ws`] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    // Every tab arrives from 127.0.0.1 (the HTTP port pipes upgrades here), so the per-host rate
    // limit moves to relay-upgrade.ts, which sees real client addresses.
    connectionManager: { maxConnections: MAX_RELAY_CONNECTIONS, inboundConnectionThreshold: MAX_RELAY_CONNECTIONS, maxIncomingPendingConnections: RELAY_MAX_PENDING_UPGRADES },
    services: {
      identify: identify(),
      relay: circuitRelayServer({
        hopTimeout: RELAY_HOP_TIMEOUT_MS,
        maxInboundHopStreams: RELAY_MAX_HOP_STREAMS,
        maxOutboundHopStreams: RELAY_MAX_HOP_STREAMS,
        reservations: {
          maxReservations: MAX_RELAY_RESERVATIONS,
          reservationTtl: RELAY_RESERVATION_TTL_MS,
          applyDefaultLimit: true,
          defaultDurationLimit: RELAY_CIRCUIT_DURATION_MS,
          defaultDataLimit: RELAY_CIRCUIT_DATA_BYTES
        }
      }),
      // The relay only forwards pubsub between tabs (they can't always mesh directly).
      pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false, canRelayMessage: true })
    }
  })
  node.services.pubsub.subscribe(PEER_DISCOVERY_TOPIC)
  // A tab that leaves frees its reservation slot now, not when the TTL runs out.
  node.addEventListener('peer:disconnect', evt => { node.services.relay.reservations.delete(evt.detail) })
  return node as unknown as RelayNode
}
