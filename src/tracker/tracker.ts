// The tracker: static app + HTTP JSON API + libp2p relay, composed. It never holds model weights.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { createRelay, type RelayNode } from './relay.ts'
import { loadOrCreateRelayKey } from './relay-key.ts'
import { openCampaignStore, ManifestInvalidError, type CampaignStore, type CampaignRecord } from './campaign-store.ts'
import { JsonSnapshots, readJsonBody, sendError, sendJson, sendJsonCached } from './http-util.ts'
import { serveStatic } from './static-files.ts'
import { BadRequestError, HttpError, MethodNotAllowedError, NotFoundError } from './errors.ts'
import type { TrackerConfig } from './config.ts'
import { KEEP_ALIVE_TIMEOUT_MS } from './constants.ts'
import { demoManifest, DEMO_DATASET_PATH } from '../campaign/demo.ts'
import { campaignLink, validateManifest } from '../campaign/manifest.ts'
import { createLogger } from '../log.ts'
import { handleDatasetRoute } from './dataset-routes.ts'
import { checkManifestInit } from './checkpoint-routes.ts'
import { createCallerAuth } from './swarm/caller-auth.ts'
import { createSwarmRoutes, type SwarmRoutes } from './swarm/routes.ts'
import { createCampaignLedgers, type CampaignLedgers } from './campaign-ledgers.ts'
import { createIdentityRoutes } from './identity-routes.ts'
import { createNonceStore } from '../identity/nonce-store.ts'
import { openBindingsFile, type BindingsFile } from '../identity/bindings-file.ts'
import { iceResponse } from './ice-route.ts'
import { relayAddrFor, requestOrigin } from './public-origin.ts'
import { forwardUpgradesToRelay } from './relay-upgrade.ts'
import { addServerTiming } from './server-timing.ts'
import { createReachability, readReachabilityReport, type Reachability } from './reachability.ts'
import { openDoors } from './auth/open-doors.ts'
import { applySecurityHeaders } from './security-headers.ts'

const log = createLogger('tabgrad:tracker')

export const VERSION = '0.1.0'

export interface Tracker {
  /** http://host:port of the app and API. */
  url: string
  /** What volunteers use: the public URL when one is configured, else `url`. */
  publicUrl: string
  relay: RelayNode
  campaigns: CampaignStore
  demoCampaignId: string
  swarm: SwarmRoutes
  ledgers: CampaignLedgers
  bindings: BindingsFile
  /** Which tab pairs can talk (direct, TURN, unreachable), as tabs report it: for routing. */
  reachability: Reachability
  /** The operator's token (Authorization: Bearer …; the sign-in link /api/admin/login?token=…). */
  adminToken: string
  close(): Promise<void>
}

export async function startTracker (config: TrackerConfig): Promise<Tracker> {
  const demoPath = join(config.staticDir, DEMO_DATASET_PATH)
  const demoBytes = await readFile(demoPath).catch(() => {
    throw new Error(`the built app is missing (${demoPath} not found): run \`npm run build\` first, or use \`npm start\`, which builds`)
  })
  const campaigns = await openCampaignStore(config.dataDir)
  const { doors, adminToken } = await openDoors({ dataDir: config.dataDir, env: process.env })
  const demo = await campaigns.create(demoManifest(createHash('sha256').update(demoBytes).digest('hex'), demoBytes.length), { builtin: true })

  const trackerKey = await loadOrCreateRelayKey(config.dataDir)
  const relay = await createRelay({ privateKey: trackerKey, host: '127.0.0.1', port: config.relayPort })
  // Share links pin this key (campaign/share-link.ts).
  const trackerId = relay.peerId.toString()
  await relay.start()

  const bindings = openBindingsFile({ dataDir: config.dataDir })
  const identity = createIdentityRoutes({ nonces: createNonceStore(), bindings })
  const ledgers = createCampaignLedgers({ dataDir: config.dataDir, campaigns, bindings, trackerKey })
  // Every ledger is verified now, not on first use: a tampered one stops the start with its line.
  try { ledgers.openAll() } catch (err) { ledgers.close(); bindings.close(); await relay.stop(); throw err }
  const snapshots = new JsonSnapshots()
  const reachability = createReachability()
  const swarm = createSwarmRoutes({ campaigns, ledgers, snapshots, dataDir: config.dataDir, reachability, bindings, ...(config.spotDeadlineMs != null ? { spotDeadlineMs: config.spotDeadlineMs } : {}) })
  // Seed shards go only to the tab that signed the request (its own nonce cache: the path is signed, so no call crosses).
  const seedAuth = createCallerAuth()

  const status = (rec: CampaignRecord): Record<string, unknown> => {
    const coord = swarm.coordinator(rec.id)
    coord?.expire()
    const s = coord?.status()
    return {
      // Tabs that joined the swarm and still send heartbeats.
      volunteers: s == null ? 0 : s.stages.reduce((n, st) => n + st.replicas.length, 0),
      step: s?.step ?? 0,
      stages_at_risk: s == null ? rec.manifest.stages : s.stages.filter(st => st.replicas.length < 2).length
    }
  }

  let localUrl = `http://${config.host}:${config.port}`

  async function api (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET'
    const origin = requestOrigin(req, { publicUrl: config.publicUrl, trustedProxies: config.trustedProxies, fallback: localUrl })
    if (path === '/api/health') {
      if (method !== 'GET') throw new MethodNotAllowedError()
      // The relay is reached through this same origin (WebSocket upgrades are forwarded to it).
      sendJson(res, 200, { ok: true, version: VERSION, peerId: relay.peerId.toString(), multiaddrs: [relayAddrFor(origin, relay.peerId.toString())] })
      return
    }
    if (path === '/api/ice') {
      if (method !== 'GET') throw new MethodNotAllowedError()
      sendJson(res, 200, iceResponse({ stun: config.stun, turn: config.turn, turnSecret: config.turnSecret, turnTtlS: config.turnTtlS }))
      return
    }
    if (path === '/api/reachability') {
      if (method !== 'POST') throw new MethodNotAllowedError()
      const { peerId, links } = await readReachabilityReport(await readJsonBody(req))
      reachability.report(peerId, links)
      sendJson(res, 200, { ok: true })
      return
    }
    const reach = /^\/api\/reachability\/([1-9A-HJ-NP-Za-km-z]{32,64})$/.exec(path)
    if (reach != null) {
      if (method !== 'GET') throw new MethodNotAllowedError()
      sendJson(res, 200, { peer: reach[1], links: reachability.linksOf(reach[1]) })
      return
    }
    if (doors.handle(req, res, path)) return
    if (await swarm.handle(req, res, path)) return
    if (await ledgers.handle(req, res, path, new URL(req.url ?? '/', 'http://x').searchParams)) return
    const id = await identity({ method, path, host: req.headers.host, readBody: async () => await readJsonBody(req) })
    if (id != null) {
      if (path === '/api/siwe/verify' && id.status === 200) doors.signedIn(req, res, (id.body as { address: string }).address)
      sendJson(res, id.status, id.body)
      return
    }
    if (path === '/api/campaigns') {
      if (method === 'GET') {
        sendJsonCached(req, res, { campaigns: campaigns.list().map(r => ({ id: r.id, name: r.manifest.name, builtin: r.builtin, createdAt: r.createdAt, link: campaignLink(origin, r.id, trackerId), status: status(r) })) })
        return
      }
      if (method === 'POST') {
        const pass = doors.admit(req, res, 'campaign')
        const body = await readJsonBody(req)
        // A fine-tuning seed must be on this tracker and fit the model before anything is created.
        const v = validateManifest(body)
        const initProblem = v.ok ? await checkManifestInit(config.dataDir, v.manifest) : null
        if (initProblem != null) { sendJson(res, 400, { error: initProblem, fields: [{ path: 'init.sha256', message: initProblem }] }); return }
        try {
          const rec = await campaigns.create(body)
          pass.done()
          sendJson(res, 201, { id: rec.id, link: campaignLink(origin, rec.id, trackerId) })
        } catch (err) {
          if (err instanceof ManifestInvalidError) {
            sendJson(res, 400, { error: err.message, fields: err.errors })
            return
          }
          throw err
        }
        return
      }
      throw new MethodNotAllowedError()
    }
    const m = /^\/api\/campaigns\/([0-9a-f]{32})$/.exec(path)
    if (m != null) {
      if (method !== 'GET') throw new MethodNotAllowedError()
      const rec = campaigns.get(m[1])
      if (rec == null) throw new NotFoundError(`no campaign ${m[1]}`)
      sendJsonCached(req, res, snapshots.get(`${rec.id}/detail ${origin}`, () => ({ id: rec.id, manifest: rec.manifest, builtin: rec.builtin, createdAt: rec.createdAt, link: campaignLink(origin, rec.id, trackerId), status: status(rec) })))
      return
    }
    if (/^\/api\/campaigns\/[^/]+$/.test(path)) throw new BadRequestError('campaign ids are 32 hex digits')
    throw new NotFoundError(`no API route ${method} ${path}`)
  }

  const server: Server = createServer((req, res) => {
    addServerTiming(res)
    applySecurityHeaders(res)
    let path: string
    try {
      path = new URL(req.url ?? '/', 'http://x').pathname
    } catch {
      sendError(res, new BadRequestError('malformed URL'))
      return
    }
    // Uploads (datasets, fine-tuning checkpoints) pass the same doors as campaign creation.
    const handle = Promise.resolve()
      .then(() => { if ((path === '/api/datasets' || path === '/api/checkpoints') && req.method === 'POST') doors.admit(req, res, 'upload') })
      .then(async () => await handleDatasetRoute(req, res, path, { dataDir: config.dataDir, seeds: { manifest: id => campaigns.get(id)?.manifest, authenticate: async (req, path) => await seedAuth.authenticate(req, path, {}), stageOf: (id, peer) => swarm.coordinator(id)?.tab(peer)?.stage } }))
      .then(handled => handled ? undefined : route(req, res, path))
    handle.catch(err => {
      if (!(err instanceof HttpError)) log.error('request failed', req.method, path, err)
      if (!res.headersSent) sendError(res, err)
      else res.destroy()
    })
  })

  function route (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    return path.startsWith('/api/')
      ? api(req, res, path)
      : (req.method === 'GET' || req.method === 'HEAD')
          ? serveStatic(config.staticDir, req, res)
          : Promise.reject(new MethodNotAllowedError())
  }
  server.on('clientError', (_err, socket) => { socket.end('HTTP/1.1 400 Bad Request\r\n\r\n') })
  // Behind a proxy the upstream connection is reused for minutes (Caddy: 2 min idle); Node's
  // default 5 s keep-alive would close it under the proxy's next request (a 502 race).
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 5_000
  const relayPort = Number(/\/tcp\/(\d+)/.exec(relay.getMultiaddrs()[0]?.toString() ?? '')?.[1])
  const upgrades = forwardUpgradesToRelay(server, { relayPort, trustedProxies: config.trustedProxies })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.port, config.host, () => { server.off('error', reject); resolve() })
  })
  const addr = server.address() as AddressInfo
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${addr.port}`
  localUrl = url
  log.info(`app, API and relay on ${url}${config.publicUrl != null ? ` (public: ${config.publicUrl})` : ''}`)

  return {
    url,
    publicUrl: config.publicUrl ?? url,
    relay,
    campaigns,
    demoCampaignId: demo.id,
    swarm,
    ledgers,
    bindings,
    reachability,
    adminToken,
    async close () {
      upgrades.close()
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
      await relay.stop()
      await ledgers.flush()
      ledgers.close()
      bindings.close()
    }
  }
}
