// A tiny authoritative DNS server for the test bed: answers A queries for the names it is given
// (`name=ip`, …) and nothing else. Chromium resolves STUN/TURN host names through DNS, not through
// the namespace's /etc/hosts, so the homes need a real resolver, as on the internet.
// Usage: node dns-server.ts LISTEN_IP name=ip [name=ip…]
import { createSocket } from 'node:dgram'

const [listen, ...pairs] = process.argv.slice(2)
const records = new Map(pairs.map(p => p.split('=') as [string, string]))

/** The question's name (labels joined with dots) and where the question ends. */
function question (msg: Buffer): { name: string, end: number } | null {
  const labels: string[] = []
  let off = 12
  while (off < msg.length) {
    const len = msg[off]
    if (len === 0) return { name: labels.join('.').toLowerCase(), end: off + 5 }
    if (len > 63 || off + 1 + len > msg.length) return null
    labels.push(msg.subarray(off + 1, off + 1 + len).toString('latin1'))
    off += 1 + len
  }
  return null
}

const socket = createSocket('udp4')
socket.on('message', (msg, from) => {
  if (msg.length < 17 || msg.readUInt16BE(4) !== 1) return
  const q = question(msg)
  if (q == null || q.end > msg.length) return
  const qtype = msg.readUInt16BE(q.end - 4)
  const ip = records.get(q.name)
  const answer = ip != null && qtype === 1
  const header = Buffer.alloc(12)
  header.writeUInt16BE(msg.readUInt16BE(0), 0) // id
  // QR, AA, RD copied; RCODE 3 (NXDOMAIN) for names we don't hold, 0 otherwise.
  header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | (ip == null ? 3 : 0), 2)
  header.writeUInt16BE(1, 4)
  header.writeUInt16BE(answer ? 1 : 0, 6)
  const parts = [header, msg.subarray(12, q.end)]
  if (answer) {
    const rr = Buffer.alloc(16)
    rr.writeUInt16BE(0xc00c, 0) // the name: a pointer to the question's
    rr.writeUInt16BE(1, 2) // A
    rr.writeUInt16BE(1, 4) // IN
    rr.writeUInt32BE(60, 6) // TTL
    rr.writeUInt16BE(4, 10)
    ip.split('.').forEach((b, i) => { rr[12 + i] = Number(b) })
    parts.push(rr)
  }
  socket.send(Buffer.concat(parts), from.port, from.address)
})
socket.bind(53, listen, () => { console.log(`dns on ${listen}:53 for ${[...records.keys()].join(', ')}`) })
