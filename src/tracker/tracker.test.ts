// The real tracker in-process: HTTP API, bad input, and what survives a restart.
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTracker, type Tracker } from './tracker.ts'
import { demoManifest } from '../campaign/demo.ts'
import { trackerKeyPin } from '../ledger/merkle.ts'

const open: Tracker[] = []
const dirs: string[] = []

async function start (dataDir?: string): Promise<Tracker> {
  const dir = dataDir ?? await mkdtemp(join(tmpdir(), 'tabgrad-tracker-'))
  if (dataDir == null) dirs.push(dir)
  // public/ holds the demo dataset, so no build is needed for API tests.
  const t = await startTracker({ host: '127.0.0.1', port: 0, relayPort: 0, dataDir: dir, staticDir: 'public' })
  open.push(t)
  return t
}

afterEach(async () => {
  await Promise.all(open.splice(0).map(async t => await t.close()))
  await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
})

/** POSTs as the operator (the admin token `npm start` prints). */
async function post (t: Tracker, path: string, body: string, type = 'application/json'): Promise<{ status: number, json: any }> {
  const res = await fetch(t.url + path, { method: 'POST', headers: { 'content-type': type, authorization: `Bearer ${t.adminToken}` }, body })
  return { status: res.status, json: await res.json() }
}

function validManifest (): ReturnType<typeof demoManifest> {
  const m = demoManifest('b'.repeat(64), 100_000)
  m.name = 'Test campaign'
  m.dataset.url = '/datasets/other.txt'
  return m
}

describe('tracker HTTP API', () => {
  it('reports health with the relay PeerId and multiaddrs', async () => {
    const t = await start()
    const h = await (await fetch(`${t.url}/api/health`)).json()
    expect(h.ok).toBe(true)
    expect(h.peerId).toBe(t.relay.peerId.toString())
    expect(h.multiaddrs.length).toBeGreaterThan(0)
    expect(h.multiaddrs[0]).toMatch(/\/ws\/p2p\/12D3KooW/)
  })

  it('lists the built-in demo campaign, whose dataset digest matches the shipped file', async () => {
    const t = await start()
    const { campaigns } = await (await fetch(`${t.url}/api/campaigns`)).json()
    expect(campaigns).toHaveLength(1)
    expect(campaigns[0]).toMatchObject({ id: t.demoCampaignId, builtin: true })
    const detail = await (await fetch(`${t.url}/api/campaigns/${t.demoCampaignId}`)).json()
    const file = new Uint8Array(await (await fetch(t.url + detail.manifest.dataset.url)).arrayBuffer())
    expect(file.length).toBe(detail.manifest.dataset.bytes)
    const digest = Buffer.from(await crypto.subtle.digest('SHA-256', file)).toString('hex')
    expect(digest).toBe(detail.manifest.dataset.sha256)
  })

  it('creates a campaign, returns its link, and is idempotent for the same manifest', async () => {
    const t = await start()
    const a = await post(t, '/api/campaigns', JSON.stringify(validManifest()))
    expect(a.status).toBe(201)
    expect(a.json.id).toMatch(/^[0-9a-f]{32}$/)
    // The link pins the tracker's signing key (campaign/share-link.ts).
    expect(a.json.link).toBe(`${t.url}/#/c/${a.json.id}?key=${trackerKeyPin(t.relay.peerId.toString())}`)
    const b = await post(t, '/api/campaigns', JSON.stringify(validManifest()))
    expect(b.json.id).toBe(a.json.id)
    const { campaigns } = await (await fetch(`${t.url}/api/campaigns`)).json()
    expect(campaigns).toHaveLength(2)
  })

  it('answers bad input with a 4xx JSON error, writes nothing, and keeps running', async () => {
    const t = await start()
    const bad = validManifest() as any
    bad.training.lr = 'fast'
    const cases: Array<[Promise<{ status: number, json: any }>, number, RegExp]> = [
      [post(t, '/api/campaigns', '{"name": '), 400, /malformed JSON/],
      [post(t, '/api/campaigns', ''), 400, /empty/],
      [post(t, '/api/campaigns', JSON.stringify(bad)), 400, /training\.lr must be a number/],
      [post(t, '/api/campaigns', '[]'), 400, /JSON object/],
      [post(t, '/api/campaigns', 'name=x', 'application/x-www-form-urlencoded'), 415, /content-type/],
      [post(t, '/api/campaigns', JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) })), 413, /limit/],
      [post(t, '/api/health', '{}'), 405, /method/],
      [fetch(`${t.url}/api/nope`).then(async r => ({ status: r.status, json: await r.json() })), 404, /no API route/],
      [fetch(`${t.url}/api/campaigns/xyz`).then(async r => ({ status: r.status, json: await r.json() })), 400, /32 hex/],
      [fetch(`${t.url}/api/campaigns/${'0'.repeat(32)}`).then(async r => ({ status: r.status, json: await r.json() })), 404, /no campaign/]
    ]
    for (const [p, status, msg] of cases) {
      const r = await p
      expect(r.status).toBe(status)
      expect(r.json.error).toMatch(msg)
      expect(r.json.error).not.toContain('\n')
    }
    const invalid = await post(t, '/api/campaigns', JSON.stringify(bad))
    expect(invalid.json.fields).toEqual([{ path: 'training.lr', message: 'must be a number' }])
    const { campaigns } = await (await fetch(`${t.url}/api/campaigns`)).json()
    expect(campaigns).toHaveLength(1)
    expect((await fetch(`${t.url}/api/health`)).status).toBe(200)
  })

  it('never serves files outside the app directory', async () => {
    const t = await start()
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/datasets/../../package.json', '/%E0%A4%A']) {
      const res = await fetch(t.url + path)
      expect(res.status).toBe(404)
    }
  })

  it('keeps its relay PeerId and created campaigns across a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tabgrad-restart-'))
    dirs.push(dir)
    const t1 = await start(dir)
    const created = await post(t1, '/api/campaigns', JSON.stringify(validManifest()))
    const peerId = t1.relay.peerId.toString()
    await t1.close()
    open.splice(open.indexOf(t1), 1)
    const t2 = await start(dir)
    expect(t2.relay.peerId.toString()).toBe(peerId)
    expect((await fetch(`${t2.url}/api/campaigns/${created.json.id}`)).status).toBe(200)
  })
})
