// The volunteers' side of `npm run test:net` (run.sh builds the network and the server first).
// Each home gets its own headless Chromium inside its namespace, with default WebRTC settings
// (mDNS hiding of local addresses on) and the test CA in its NSS store, and opens
// https://train.test like a volunteer would.
//   --phase turn:   secure context, GPU adapter, WSS relay, no loopback address; A↔B direct
//                   (server-reflexive), A↔C only through TURN, C with UDP blocked over TURN/TCP;
//                   A and B move 4 MiB over libp2p WebRTC from the app's own page.
//   --phase noturn: the tracker hands out STUN only: C cannot reach A, A and B still connect,
//                   and a campaign the three homes join trains on around C.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { resolve } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright'
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../src/chromium.ts'
import { probePair } from './webrtc-probe.ts'

const work = process.env.TGNET_WORK
if (work == null) throw new Error('run through e2e/net/run.sh')
const phase = process.argv[process.argv.indexOf('--phase') + 1]
const browsers: Browser[] = []
const LOOPBACK = /(^|\/)(127\.\d+\.\d+\.\d+|::1|localhost)(\/|:|$)/

function step (what: string): void { console.log(`[test:net ${phase}] ${what}`) }
const failures: string[] = []
function check (ok: boolean, what: string): void {
  if (!ok) { failures.push(what); console.log(`[test:net ${phase}] FAILED: ${what}`) }
}

async function volunteer (home: 'a' | 'b' | 'c'): Promise<Page> {
  const browser = await chromium.launch({
    executablePath: resolve('e2e/net/chromium-in-netns.sh'),
    // Default WebRTC behaviour: leave mDNS hiding of host addresses on.
    args: CHROMIUM_ARGS.filter(a => !a.includes('WebRtcHideLocalIpsWithMdns')),
    env: { ...process.env, HOME: `${work}/home-${home}`, TGNET_NS: `tgnet-h-${home}`, TGNET_CHROMIUM: CHROMIUM_PATH }
  })
  browsers.push(browser)
  const page = await browser.newPage()
  page.on('pageerror', err => { console.log(`[home ${home}] page error: ${err.message}`) })
  await page.goto('https://train.test/#/')
  return page
}

async function checkOrigin (page: Page, home: string): Promise<void> {
  const seen = await page.evaluate(async () => {
    const adapter = await navigator.gpu?.requestAdapter()
    const health = await (await fetch('/api/health')).json() as { multiaddrs: string[] }
    const ice = await (await fetch('/api/ice')).json() as { iceServers: Array<{ urls: string[] }> }
    return { secure: window.isSecureContext, protocol: location.protocol, adapter: adapter != null, multiaddrs: health.multiaddrs, iceUrls: ice.iceServers.flatMap(s => s.urls) }
  })
  assert.equal(seen.protocol, 'https:', `home ${home}: page served over ${seen.protocol}`)
  assert.ok(seen.secure, `home ${home}: https://train.test is not a secure context`)
  assert.ok(seen.adapter, `home ${home}: no WebGPU adapter`)
  assert.deepEqual(seen.multiaddrs.map(a => a.replace(/\/p2p\/\w+$/, '')), ['/dns4/train.test/tcp/443/tls/ws'], `home ${home}: relay addresses ${seen.multiaddrs.join(' ')}`)
  for (const a of [...seen.multiaddrs, ...seen.iceUrls]) assert.ok(!LOOPBACK.test(a), `home ${home}: loopback address handed to a tab: ${a}`)
  // The app's own libp2p node reached the relay over WSS through Caddy.
  await page.getByTestId('net-status').getByText('Online').waitFor({ timeout: 90_000 })
}

const peerId = async (page: Page): Promise<string> => {
  await page.getByTestId('net-status').getByText('Online').waitFor({ timeout: 90_000 })
  return (await page.getByTestId('peer-id').textContent())!.trim()
}

/**
 * The app's own "Check link": 4 MiB over a libp2p WebRTC connection dialled through the WSS relay.
 * Returns the link kind the tab shows (checked against `kind` unless 'any').
 */
async function linkCheck (from: Page, to: Page, kind: 'direct' | 'turn' | 'any'): Promise<string> {
  const row = from.locator(`[data-testid="peer-row"][data-peer="${await peerId(to)}"]`)
  const seen = await row.waitFor({ timeout: 60_000 }).then(() => true, () => false)
  if (!seen) {
    check(false, `the tab never listed the other home's tab; its network card says: ${(await from.getByTestId('network-card').innerText()).replace(/\s+/g, ' ').slice(0, 400)}`)
    return 'none'
  }
  const sent = from.locator('[data-testid="link-check"][data-direction="sent"]')
  const before = await sent.count()
  await row.locator('button').click()
  await sent.nth(before).waitFor({ timeout: 90_000 })
  // Newest first.
  assert.equal(await sent.first().getAttribute('data-ok'), 'true', 'link check failed')
  const link = row.getByTestId('peer-link')
  await link.and(from.locator('[data-link="direct"], [data-link="turn"]')).waitFor({ timeout: 15_000 })
  const shown = (await link.getAttribute('data-link')) ?? ''
  if (kind !== 'any') {
    check(shown === kind, `the tab shows the link as ${shown}, expected ${kind}`)
    check(new RegExp(kind === 'direct' ? 'direct \\(WebRTC\\)' : 'WebRTC through TURN').test((await link.textContent()) ?? ''), `link text for ${kind}`)
  }
  return shown
}

/**
 * A 2-stage campaign with a volunteer in each home, exactly as volunteers join it (open the link,
 * press Start): the loss falls and every scheduled microbatch completes.
 */
async function trainAcrossHomes (pages: Page[], name: string): Promise<void> {
  const STEPS = 4
  // Home A's browser is the operator's: it signs in with the link `npm start` prints (over HTTPS).
  const token = process.env.TABGRAD_ADMIN_TOKEN
  if (token == null) throw new Error('run through e2e/net/run.sh (TABGRAD_ADMIN_TOKEN)')
  await pages[0].goto(`https://train.test/api/admin/login?token=${token}`)
  const link = await pages[0].evaluate(`(async () => {
    const { campaigns } = await (await fetch('/api/campaigns')).json()
    const demo = await (await fetch('/api/campaigns/' + campaigns[0].id)).json()
    const m = demo.manifest
    m.name = ${JSON.stringify(name)}
    m.stages = 2
    m.training.steps = ${STEPS}
    m.training.accumulation = 2
    m.training.sync_every = 1
    m.spot_check_rate = 0
    const res = await fetch('/api/campaigns', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(m) })
    return (await res.json()).link
  })()`) as string
  // The link pins the tracker's key (`?key=`, campaign/share-link.ts).
  const id = /^https:\/\/train\.test\/#\/c\/([0-9a-f]{32})\?key=[0-9a-f]{32}$/.exec(link)?.[1]
  assert.ok(id != null, `share link ${link}`)
  for (const p of pages) {
    await p.goto(link)
    await p.getByTestId('start').click({ timeout: 120_000 })
    await p.getByTestId('my-stage').waitFor({ timeout: 120_000 })
  }
  type Status = { done: boolean, step: number, losses: Array<{ step: number, loss: number }>, microbatches: { scheduled: number, completed: number, lost: number } }
  let s: Status | undefined
  const deadline = Date.now() + 8 * 60_000
  while (Date.now() < deadline) {
    s = await pages[0].evaluate(`fetch('/api/campaigns/${id}/swarm').then(r => r.json())`) as Status
    if (s.done) break
    await new Promise(resolve => setTimeout(resolve, 2000))
  }
  assert.ok(s?.done === true, `training across homes stalled at step ${s?.step}`)
  const losses = s.losses.map(l => l.loss)
  assert.equal(losses.length, STEPS)
  assert.ok(losses.at(-1)! < losses[0], `loss did not fall: ${losses.map(l => l.toFixed(3)).join(' → ')}`)
  assert.equal(s.microbatches.lost, 0)
  assert.equal(s.microbatches.completed, s.microbatches.scheduled)
  step(`${name}: trained ${STEPS} steps across homes A, B, C: loss ${losses.map(l => l.toFixed(3)).join(' → ')}, ${s.microbatches.completed} microbatches, none lost`)
}

try {
  const [a, b, c] = await Promise.all([volunteer('a'), volunteer('b'), volunteer('c')])
  if (phase === 'turn') {
    // Over plain http from another network the page is not a secure context: it must say so.
    await c.goto('http://train.test/#/')
    await c.getByText('This page needs HTTPS').waitFor({ timeout: 60_000 })
    assert.equal(await c.evaluate('window.isSecureContext'), false)
    await c.goto('https://train.test/#/')
    step('http://train.test: the page says it needs HTTPS')
    for (const [p, h] of [[a, 'A'], [b, 'B'], [c, 'C']] as const) await checkOrigin(p, h)
    step('secure context, GPU adapter, WSS relay, no loopback address: ok in homes A, B, C')

    // Each expectation is checked and reported; the run fails at the end with all that failed.
    const ab = await probePair(a, b, 'stun-only', 30_000)
    const abInfo = `pair ${ab.localType}/${ab.remoteType}; gathered A ${ab.gathered.offerer.join(',')} B ${ab.gathered.answerer.join(',')}; pairs ${ab.pairs?.join(' ')}`
    check(ab.connected, `A↔B did not connect with STUN only (${abInfo})`)
    check(ab.mdnsHostCandidates, 'host candidates were not hidden behind mDNS names (default settings expected)')
    check(!ab.connected || [ab.localType, ab.remoteType].some(t => t === 'srflx' || t === 'prflx'), `A↔B: expected a server-reflexive pair (${abInfo})`)
    step(`A↔B direct, no TURN offered: ${abInfo}`)
    const abAll = await probePair(a, b, 'all', 30_000)
    check(abAll.connected, 'A↔B did not connect with STUN and TURN offered')
    step(`A↔B with TURN offered too: ${abAll.localType}/${abAll.remoteType}`)

    const acStun = await probePair(a, c, 'stun-only', 15_000)
    check(!acStun.connected, `A↔C connected without TURN: C's NAT is not symmetric (${acStun.localType}/${acStun.remoteType})`)
    const ac = await probePair(a, c, 'all', 30_000)
    check(ac.connected, `A↔C did not connect through TURN (gathered A ${ac.gathered.offerer.join(',')} C ${ac.gathered.answerer.join(',')})`)
    check(!ac.connected || ac.localType === 'relay' || ac.remoteType === 'relay', `A↔C pair ${ac.localType}/${ac.remoteType}: expected TURN`)
    step(`A↔C: ${acStun.connected ? 'connected' : 'no path'} without TURN; with TURN ${ac.localType}/${ac.remoteType}`)

    execFileSync('bash', ['e2e/net/netbed.sh', 'block-udp', 'c'])
    try {
      const ca = await probePair(c, a, 'all', 45_000)
      check(ca.connected, `C with UDP blocked did not connect over TURN/TCP (gathered C ${ca.gathered.offerer.join(',')})`)
      check(!ca.connected || (ca.localType === 'relay' && (ca.relayProtocol === 'tcp' || ca.relayProtocol === 'tls')), `C with UDP blocked: pair ${ca.localType} over ${ca.relayProtocol}`)
      step(`C with UDP blocked: ${ca.localType} over ${ca.relayProtocol}`)
    } finally {
      execFileSync('bash', ['e2e/net/netbed.sh', 'unblock-udp', 'c'])
    }

    const abKind = await linkCheck(a, b, 'any')
    step(`app: A→B 4 MiB over libp2p WebRTC (${abKind}) set up through the WSS relay`)
    await linkCheck(a, c, 'turn')
    step('app: A→C 4 MiB over libp2p WebRTC through TURN, and the tab shows it')

    // Training needs the links above; after a failure it would only spend minutes stalling.
    if (failures.length === 0) await trainAcrossHomes([a, b, c], 'Three homes')
    else step('training across homes skipped: earlier expectations failed')
    assert.deepEqual(failures, [], 'some expectations failed')
  } else {
    const ac = await probePair(a, c, 'all', 15_000)
    check(!ac.connected, 'A↔C connected with TURN switched off')
    const ab = await probePair(a, b, 'all', 30_000)
    check(ab.connected, 'A↔B did not connect with TURN off')
    step('TURN off: no ICE path A↔C; A↔B still direct')
    // The app: A's dial to C fails; A's tab says why and reports it, signed, to the tracker.
    const [idA, idC] = [await peerId(a), await peerId(c)]
    const rowC = a.locator(`[data-testid="peer-row"][data-peer="${idC}"]`)
    await rowC.waitFor({ timeout: 60_000 })
    await rowC.locator('button').click()
    await rowC.getByTestId('peer-link').and(a.locator('[data-link="unreachable"]')).waitFor({ timeout: 90_000 })
    let reported: Array<{ peer: string, kind: string }> = []
    for (let i = 0; i < 40 && !reported.some(l => l.peer === idA && l.kind === 'unreachable'); i++) {
      await new Promise(resolve => setTimeout(resolve, 500))
      reported = (await a.evaluate(`fetch('/api/reachability/${idC}').then(r => r.json())`) as { links: typeof reported }).links
    }
    assert.ok(reported.some(l => l.peer === idA && l.kind === 'unreachable'), `tracker did not learn that C is unreachable from A: ${JSON.stringify(reported)}`)
    step('TURN off: A shows C unreachable and the tracker\'s reachability table has it')
    await linkCheck(a, b, 'direct')
    step('TURN off: A and B still move 4 MiB directly')
    // C joins too but can reach no one: routing and replica sync go around it, nothing stalls.
    await trainAcrossHomes([a, b, c], 'Three homes, no TURN')
    assert.deepEqual(failures, [], 'some expectations failed')
  }
} finally {
  await Promise.all(browsers.map(async b => await b.close().catch(() => {})))
}
