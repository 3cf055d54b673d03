// A bare libp2p node for Node tests of our protocols over real connections (WebSockets + noise +
// yamux on 127.0.0.1). Imported by tests only.
import { createLibp2p, type Libp2p } from 'libp2p'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'

// Node 20 has no global WebSocket (browsers and Node 22 do); libp2p's own `ws` dependency stands in.
if (typeof globalThis.WebSocket === 'undefined') {
  const wsModule = 'ws'
  const ws = await import(/* @vite-ignore */ wsModule) as { WebSocket: typeof WebSocket }
  Object.assign(globalThis, { WebSocket: ws.WebSocket })
}

/** A node that listens on a loopback WebSockets port when `listen`, else only dials. */
export async function testNode (listen: boolean): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0/ws'] : [] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false }
  })
}
