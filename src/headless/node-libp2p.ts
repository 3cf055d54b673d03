// The volunteer's libp2p node in Node: the tab's own node (net/tab-node.ts) — WebSockets to the
// tracker's relay, WebRTC through it (node-datachannel stands in for RTCPeerConnection, which
// @libp2p/webrtc picks on Node), gossipsub discovery — so to browser tabs it is one more tab.
// It also listens on TCP (`--listen`), so two Node volunteers that can reach each other connect
// over TCP instead of WebRTC (directConnection in tab-node.ts dials TCP first).
import type { PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { createTabNode, type TabLibp2p, type TabNodeInit } from '../net/tab-node.ts'
import { createIceSource, type IceSource } from '../net/ice.ts'

// Node 20 has no global WebSocket (Node 22 does); libp2p's own `ws` dependency stands in.
if (typeof globalThis.WebSocket === 'undefined') {
  const wsModule = 'ws'
  const ws = await import(/* @vite-ignore */ wsModule) as { WebSocket: typeof WebSocket }
  Object.assign(globalThis, { WebSocket: ws.WebSocket })
}

export interface NodeLibp2pInit {
  /** The tracker's origin: its ICE servers (STUN/TURN) come from `<origin>/api/ice`. */
  origin: string
  relayAddrs: string[]
  privateKey: PrivateKey
  /** TCP multiaddrs to listen on (`--listen`), or null for no TCP at all: WebRTC only, as a tab. @default null */
  tcpListen?: string[] | null
}

export interface NodeLibp2p {
  node: TabLibp2p
  ice: IceSource
  /** Stops the node and releases node-datachannel's native threads (a process exiting with them running may crash). */
  stop(): Promise<void>
}

/** node-datachannel's `cleanup()`: closes every native peer connection and joins its threads. */
async function releaseNativeWebRtc (): Promise<void> {
  const name = 'node-datachannel' // @libp2p/webrtc's Node dependency, loaded by it already
  const ndc = await import(/* @vite-ignore */ name).catch(() => null) as { cleanup?: () => void, default?: { cleanup?: () => void } } | null
  ;(ndc?.cleanup ?? ndc?.default?.cleanup)?.()
}

/** TCP for createTabNode: listens on `listen` and lets directConnection dial other Node volunteers' TCP addresses. */
export function tcpListening (listen: string[]): NonNullable<TabNodeInit['dialable']> {
  return { transports: [tcp()], listen }
}

export async function createNodeLibp2p (init: NodeLibp2pInit): Promise<NodeLibp2p> {
  const ice = await createIceSource({ url: `${init.origin}/api/ice` })
  try {
    const node = await createTabNode({ relayAddrs: init.relayAddrs, privateKey: init.privateKey, rtcConfiguration: async () => await ice.rtcConfiguration(),
      ...(init.tcpListen != null ? { dialable: tcpListening(init.tcpListen) } : {})
    })
    return {
      node,
      ice,
      stop: async () => {
        await Promise.resolve(node.stop()).catch(() => {})
        ice.stop()
        await releaseNativeWebRtc()
      }
    }
  } catch (err) {
    ice.stop()
    throw err
  }
}
