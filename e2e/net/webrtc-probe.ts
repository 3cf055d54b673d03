// A bare RTCPeerConnection between two volunteers' pages, with the ICE servers the tracker hands
// out (`GET /api/ice`) and the browser's default settings. Signalling is trickled through the
// test driver; the answer is which candidate pair ICE chose, or that none worked.
import type { Page } from 'playwright'

export interface PairEnd {
  localType?: string
  remoteType?: string
  /** udp, tcp or tls for a relayed local candidate. */
  relayProtocol?: string
  /** Every candidate pair as `local/remote:state`, for failure messages. */
  pairs?: string[]
}

export interface ProbeResult extends PairEnd {
  connected: boolean
  /** The offerer's host candidates were hidden behind mDNS names (Chromium's default). */
  mdnsHostCandidates: boolean
  /** Candidate types each side trickled, e.g. ['host', 'srflx', 'relay']. */
  gathered: { offerer: string[], answerer: string[] }
  answerer: PairEnd
}

export type IceChoice = 'all' | 'stun-only'

// Page-side helpers as plain JavaScript text: the TypeScript runner rewrites functions it
// compiles (adding name helpers the page does not have), so none of its functions go to the page.
const PAGE_SCRIPT = String.raw`window.__tg = {
  async open (role, choice) {
    const ice = await (await fetch('/api/ice')).json()
    const servers = choice === 'all' ? ice.iceServers : ice.iceServers.filter(s => [s.urls].flat().every(u => u.startsWith('stun')))
    if (this.pc) this.pc.close()
    const pc = new RTCPeerConnection({ iceServers: servers })
    this.pc = pc
    this.out = []
    this.opened = false
    pc.onicecandidate = e => { if (e.candidate) this.out.push(e.candidate.toJSON()) }
    // Connected once a ping and its pong crossed the data channel.
    if (role === 'offer') {
      const dc = pc.createDataChannel('probe')
      dc.onopen = () => dc.send('ping')
      dc.onmessage = e => { if (e.data === 'pong') this.opened = true }
    } else {
      pc.ondatachannel = e => { e.channel.onmessage = m => { if (m.data === 'ping') { e.channel.send('pong'); this.opened = true } } }
    }
  },
  async offer () { await this.pc.setLocalDescription(await this.pc.createOffer()); return this.pc.localDescription.toJSON() },
  async answer (offer) { await this.pc.setRemoteDescription(offer); await this.pc.setLocalDescription(await this.pc.createAnswer()); return this.pc.localDescription.toJSON() },
  async accept (answer) { await this.pc.setRemoteDescription(answer) },
  drain () { return this.out.splice(0) },
  async add (cands) { for (const c of cands) await this.pc.addIceCandidate(c).catch(() => {}) },
  async selected () {
    const stats = await this.pc.getStats()
    let pairId
    stats.forEach(s => { if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId })
    const pair = pairId ? stats.get(pairId) : undefined
    const local = pair ? stats.get(pair.localCandidateId) : undefined
    const remote = pair ? stats.get(pair.remoteCandidateId) : undefined
    const pairs = []
    stats.forEach(s => { if (s.type === 'candidate-pair') pairs.push(stats.get(s.localCandidateId)?.candidateType + '/' + stats.get(s.remoteCandidateId)?.candidateType + ':' + s.state) })
    return { localType: local?.candidateType, remoteType: remote?.candidateType, relayProtocol: local?.relayProtocol, pairs }
  },
  close () { if (this.pc) this.pc.close(); this.pc = undefined }
}`

type Cand = Record<string, unknown> & { candidate?: string }
type Sdp = Record<string, unknown>

async function call<T> (page: Page, expr: string): Promise<T> {
  if (!await page.evaluate('typeof window.__tg === "object"')) await page.evaluate(PAGE_SCRIPT)
  return await page.evaluate(expr) as T
}

export async function probePair (offerer: Page, answerer: Page, choice: IceChoice, timeoutMs: number): Promise<ProbeResult> {
  const arg = JSON.stringify
  await call(offerer, `window.__tg.open('offer', ${arg(choice)})`)
  await call(answerer, `window.__tg.open('answer', ${arg(choice)})`)
  const offer = await call<Sdp>(offerer, 'window.__tg.offer()')
  const answer = await call<Sdp>(answerer, `window.__tg.answer(${arg(offer)})`)
  await call(offerer, `window.__tg.accept(${arg(answer)})`)
  let mdns = false
  let connected = false
  const types = (cands: Cand[], into: Set<string>): void => { for (const c of cands) { const t = / typ (\w+)/.exec(c.candidate ?? '')?.[1]; if (t != null) into.add(t) } }
  const gathered = { offerer: new Set<string>(), answerer: new Set<string>() }
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const fromOfferer = await call<Cand[]>(offerer, 'window.__tg.drain()')
    mdns ||= fromOfferer.some(c => / typ host/.test(c.candidate ?? '') && /\.local /.test(c.candidate ?? ''))
    types(fromOfferer, gathered.offerer)
    if (fromOfferer.length > 0) await call(answerer, `window.__tg.add(${arg(fromOfferer)})`)
    const fromAnswerer = await call<Cand[]>(answerer, 'window.__tg.drain()')
    types(fromAnswerer, gathered.answerer)
    if (fromAnswerer.length > 0) await call(offerer, `window.__tg.add(${arg(fromAnswerer)})`)
    if (await call<boolean>(offerer, 'window.__tg.opened') && await call<boolean>(answerer, 'window.__tg.opened')) { connected = true; break }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  // ICE may start on a relayed pair that became usable first and move to a better one once its
  // checks succeed: give it a few seconds to settle before reading the pair.
  let ends: PairEnd[] = [{}, {}]
  for (let i = 0; connected && i < 25; i++) {
    ends = [await call<PairEnd>(offerer, 'window.__tg.selected()'), await call<PairEnd>(answerer, 'window.__tg.selected()')]
    if (choice === 'stun-only' || (ends[0].localType !== 'relay' && ends[0].remoteType !== 'relay')) break
    const waiting = ends[0].pairs?.some(p => !p.includes('relay') && /:(in-progress|waiting)$/.test(p)) ?? false
    if (!waiting && i >= 5) break
    await new Promise(resolve => setTimeout(resolve, 400))
  }
  await call(offerer, 'window.__tg.close()')
  await call(answerer, 'window.__tg.close()')
  return { connected, mdnsHostCandidates: mdns, gathered: { offerer: [...gathered.offerer], answerer: [...gathered.answerer] }, ...ends[0], answerer: ends[1] }
}
