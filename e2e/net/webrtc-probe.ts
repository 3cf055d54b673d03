// A bare RTCPeerConnection between two volunteers' pages, with the ICE servers the tracker hands
// out (`GET /api/ice`) and the browser's default settings. Signalling is trickled through the
// test driver; the answer is which candidate pair ICE chose, or that none worked.
import type { Page } from 'playwright'

export interface ProbeResult {
  connected: boolean
  localType?: string
  remoteType?: string
  /** udp, tcp or tls for a relayed local candidate. */
  relayProtocol?: string
  /** What the offerer's first SDP held: host candidates hidden behind mDNS names. */
  mdnsHostCandidates: boolean
}

export type IceChoice = 'all' | 'stun-only'

async function open (page: Page, role: 'offer' | 'answer', choice: IceChoice): Promise<void> {
  await page.evaluate(async ({ role, choice }) => {
    const ice = await (await fetch('/api/ice')).json() as { iceServers: RTCIceServer[] }
    const servers = choice === 'all' ? ice.iceServers : ice.iceServers.filter(s => [s.urls].flat().every(u => u.startsWith('stun')))
    const w = window as unknown as Record<string, unknown>
    if (w.__tgPc != null) (w.__tgPc as RTCPeerConnection).close()
    const pc = new RTCPeerConnection({ iceServers: servers })
    const out: RTCIceCandidateInit[] = []
    let opened = false
    pc.onicecandidate = e => { if (e.candidate != null) out.push(e.candidate.toJSON()) }
    // Both sides count as connected once a ping and its pong crossed the data channel.
    if (role === 'offer') {
      const dc = pc.createDataChannel('probe')
      dc.onopen = () => { dc.send('ping') }
      dc.onmessage = e => { if (e.data === 'pong') opened = true }
    } else {
      pc.ondatachannel = e => { e.channel.onmessage = m => { if (m.data === 'ping') { e.channel.send('pong'); opened = true } } }
    }
    Object.assign(w, { __tgPc: pc, __tgOut: out, __tgOpen: () => opened })
  }, { role, choice })
}

const drain = async (page: Page): Promise<RTCIceCandidateInit[]> =>
  await page.evaluate(() => (window as unknown as { __tgOut: RTCIceCandidateInit[] }).__tgOut.splice(0))
const add = async (page: Page, cands: RTCIceCandidateInit[]): Promise<void> => {
  if (cands.length === 0) return
  await page.evaluate(async c => {
    const pc = (window as unknown as { __tgPc: RTCPeerConnection }).__tgPc
    for (const x of c) await pc.addIceCandidate(x).catch(() => {})
  }, cands)
}
const isOpen = async (page: Page): Promise<boolean> => await page.evaluate(() => (window as unknown as { __tgOpen: () => boolean }).__tgOpen())

/** The selected pair's candidate types, read from getStats. */
async function selected (page: Page): Promise<Pick<ProbeResult, 'localType' | 'remoteType' | 'relayProtocol'>> {
  return await page.evaluate(async () => {
    const pc = (window as unknown as { __tgPc: RTCPeerConnection }).__tgPc
    const stats = await pc.getStats()
    let pairId: string | undefined
    stats.forEach(s => { if (s.type === 'transport' && s.selectedCandidatePairId != null) pairId = s.selectedCandidatePairId })
    const pair = pairId != null ? stats.get(pairId) : undefined
    const local = pair != null ? stats.get(pair.localCandidateId) : undefined
    const remote = pair != null ? stats.get(pair.remoteCandidateId) : undefined
    return { localType: local?.candidateType, remoteType: remote?.candidateType, relayProtocol: local?.relayProtocol }
  })
}

export async function probePair (offerer: Page, answerer: Page, choice: IceChoice, timeoutMs: number): Promise<ProbeResult & { answerer: Pick<ProbeResult, 'localType' | 'remoteType' | 'relayProtocol'> }> {
  await open(offerer, 'offer', choice)
  await open(answerer, 'answer', choice)
  const offer = await offerer.evaluate(async () => {
    const pc = (window as unknown as { __tgPc: RTCPeerConnection }).__tgPc
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription!.toJSON()
  })
  const answer = await answerer.evaluate(async o => {
    const pc = (window as unknown as { __tgPc: RTCPeerConnection }).__tgPc
    await pc.setRemoteDescription(o)
    await pc.setLocalDescription(await pc.createAnswer())
    return pc.localDescription!.toJSON()
  }, offer)
  await offerer.evaluate(async a => { await (window as unknown as { __tgPc: RTCPeerConnection }).__tgPc.setRemoteDescription(a) }, answer)
  let mdns = false
  const deadline = Date.now() + timeoutMs
  let connected = false
  while (Date.now() < deadline) {
    const fromOfferer = await drain(offerer)
    mdns ||= fromOfferer.some(c => / typ host/.test(c.candidate ?? '') && /\.local /.test(c.candidate ?? ''))
    await add(answerer, fromOfferer)
    await add(offerer, await drain(answerer))
    if (await isOpen(offerer) && await isOpen(answerer)) { connected = true; break }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  const result = { connected, mdnsHostCandidates: mdns, ...(connected ? await selected(offerer) : {}), answerer: connected ? await selected(answerer) : {} }
  for (const p of [offerer, answerer]) await p.evaluate(() => { (window as unknown as { __tgPc: RTCPeerConnection }).__tgPc.close() })
  return result
}
