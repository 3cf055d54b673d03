// The volunteer's command line as a user meets it: a real process, its exit code and its stderr.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile, spawn } from 'node:child_process'
import { createServer } from 'node:http'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { Wallet } from 'ethers'
import { demoManifest } from '../campaign/demo.ts'
import { startTracker, type Tracker } from '../tracker/tracker.ts'
import { MESSAGE_BEGIN, MESSAGE_END } from './wallet-sign-in.ts'

const ID = '0123456789abcdef0123456789abcdef'
const OTHER = 'fedcba9876543210fedcba9876543210'

async function run (cmd: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, cmd, { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : (err as { code?: number }).code ?? null, stdout, stderr })
    })
  })
}
const volunteer = async (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> =>
  await run(['--import', 'tsx', '--import', './src/node/register.ts', 'src/headless/main.ts', 'volunteer', ...args])

let dir: string
/** A loopback port nobody listens on (bound, then closed). */
let closedPort: number
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tabgrad-cli-'))
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  closedPort = (s.address() as AddressInfo).port
  await new Promise(resolve => s.close(resolve))
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('tabgrad volunteer: setup errors are one line and exit code 2', () => {
  it('a bad link', async () => {
    const r = await volunteer('https://tabgrad.example/#/c/not-an-id', '--data-dir', dir)
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('tabgrad volunteer: not a campaign link: "https://tabgrad.example/#/c/not-an-id" (expected https://host/#/c/<32 hex digits>)\n')
  })

  it('an unreachable tracker', async () => {
    const r = await volunteer(`http://127.0.0.1:${closedPort}/#/c/${ID}`, '--data-dir', join(dir, 'v1'))
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`tabgrad volunteer: cannot reach the tracker at http://127.0.0.1:${closedPort}: ECONNREFUSED\n`)
  })

  it('a bad key file, before any network call', async () => {
    const d = join(dir, 'v2')
    await mkdir(d)
    await writeFile(join(d, 'peer-key'), 'this is not a key\n')
    const r = await volunteer(`http://127.0.0.1:${closedPort}/#/c/${ID}`, '--data-dir', d)
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`tabgrad volunteer: bad key file ${join(d, 'peer-key')}: not base64 (move it away to start with a new identity)\n`)
  })

  it('a data dir that cannot be created', async () => {
    const file = join(dir, 'a-file')
    await writeFile(file, 'x')
    const r = await volunteer(`http://127.0.0.1:${closedPort}/#/c/${ID}`, '--data-dir', join(file, 'sub'))
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`tabgrad volunteer: cannot create the data dir ${join(file, 'sub')}: ENOTDIR\n`)
  })

  it('a bad wallet key file', async () => {
    const wallet = join(dir, 'wallet.key')
    await writeFile(wallet, '0x1234\n')
    const r = await volunteer(`http://127.0.0.1:${closedPort}/#/c/${ID}`, '--data-dir', join(dir, 'v3'), '--wallet-key', wallet)
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`tabgrad volunteer: bad wallet key file ${wallet}: expected 64 hex digits (an Ethereum private key)\n`)
  })

  it('a bad option, through the package\'s bin entry', async () => {
    const r = await run(['bin/tabgrad.mjs', 'volunteer', `http://127.0.0.1:${closedPort}/#/c/${ID}`, '--gpu-budget', '2'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('tabgrad volunteer: --gpu-budget must be a fraction with 0 < F ≤ 1, got "2"\n')
    const unknown = await run(['bin/tabgrad.mjs', 'train'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toBe('tabgrad: unknown command "train" (commands: volunteer)\n')
  })

  it('--help prints the usage and exits 0', async () => {
    const r = await volunteer('--help')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('usage: tabgrad volunteer <campaign link>')
  })
})

describe('tabgrad volunteer: a tracker that serves the wrong campaign', () => {
  it('refuses an invalid manifest, one that does not hash to the link\'s id, and a missing campaign (exit 2)', async () => {
    const server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json')
      if (req.url === '/api/health') res.end(JSON.stringify({ ok: true, peerId: '12D3KooWxyz', multiaddrs: ['/ip4/127.0.0.1/tcp/1/ws'] }))
      else if (req.url === `/api/campaigns/${ID}`) res.end(JSON.stringify({ manifest: { version: 1, name: 'evil' } }))
      else if (req.url === `/api/campaigns/${OTHER}`) res.end(JSON.stringify({ manifest: demoManifest('0'.repeat(64), 1000) }))
      else { res.statusCode = 404; res.end('{}') }
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    try {
      const { fetchTrackerCampaign } = await import('./tracker-campaign.ts')
      await expect(fetchTrackerCampaign(`http://127.0.0.1:${port}`, ID)).rejects.toMatchObject({ name: 'BadCampaignError', message: expect.stringContaining('manifest is invalid') })
      // A valid manifest, but not the one the link names: training on it would credit other work.
      await expect(fetchTrackerCampaign(`http://127.0.0.1:${port}`, OTHER)).rejects.toMatchObject({ name: 'BadCampaignError', message: expect.stringMatching(/hashes to [0-9a-f]{32}, not the link's/) })
      await expect(fetchTrackerCampaign(`http://127.0.0.1:${port}`, 'f'.repeat(32))).rejects.toMatchObject({ name: 'BadCampaignError', message: expect.stringContaining('has no campaign') })
      const r = await volunteer(`http://127.0.0.1:${port}/#/c/${ID}`, '--data-dir', join(dir, 'v4'))
      expect(r.code).toBe(2)
      expect(r.stderr.split('\n')).toHaveLength(2)
    } finally {
      server.close()
    }
  })
})

describe('tabgrad volunteer --address: sign in with a signature pasted from an external wallet', () => {
  let tracker: Tracker
  let link: string
  beforeAll(async () => {
    tracker = await startTracker({ host: '127.0.0.1', port: 0, relayPort: 0, dataDir: join(dir, 'tracker'), staticDir: 'public' })
    const res = await fetch(`${tracker.url}/api/campaigns`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${tracker.adminToken}` }, body: JSON.stringify(demoManifest('0'.repeat(64), 1000)) })
    link = `${tracker.url}/#/c/${(await res.json() as { id: string }).id}`
  })
  afterAll(async () => { await tracker?.close() })

  /**
   * Runs the CLI with `--address`, waits for the message it prints, answers with `answer(message)`
   * on stdin, and resolves once it printed `until` (then kills it) or exited.
   */
  async function pasteSignature (address: string, dataDir: string, answer: (message: string) => Promise<string>, until: RegExp): Promise<{ code: number | null, stdout: string, stderr: string }> {
    const child = spawn(process.execPath, ['--import', 'tsx', '--import', './src/node/register.ts', 'src/headless/main.ts', 'volunteer', link, '--address', address, '--data-dir', dataDir], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let answered = false
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`no answer in 60 s:\n${stdout}\n${stderr}`)) }, 60_000)
      child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString()
        const m = new RegExp(`${MESSAGE_BEGIN}\n([^]*)\n${MESSAGE_END}\n`).exec(stdout)
        if (m != null && !answered) {
          answered = true
          void answer(m[1]).then(sig => { child.stdin.write(`${sig}\n`) })
        }
        if (until.test(stdout)) child.kill('SIGKILL')
      })
      child.once('exit', code => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
    })
  }

  it('prints the SIWE message, takes the signature from stdin and binds the PeerId to the address', async () => {
    const wallet = Wallet.createRandom()
    const r = await pasteSignature(wallet.address.toLowerCase(), join(dir, 'addr-ok'), async m => await wallet.signMessage(m), /signed in as 0x/)
    expect(r.stdout).toContain(`signed in as ${wallet.address}: this volunteer's work is credited to it`)
    const message = new RegExp(`${MESSAGE_BEGIN}\n([^]*)\n${MESSAGE_END}`).exec(r.stdout)![1]
    expect(message).toMatch(new RegExp(`wants you to sign in with your Ethereum account:\n${wallet.address}\n`))
    const peerId = /libp2p:(12D3KooW\w+)/.exec(message)![1]
    const identity = await (await fetch(`${tracker.url}/api/identity/${wallet.address}`)).json() as { peerIds: string[] }
    expect(identity.peerIds).toContain(peerId)
  })

  it('a signature by another key: one line naming both addresses, exit 2', async () => {
    const wallet = Wallet.createRandom()
    const other = Wallet.createRandom()
    const r = await pasteSignature(wallet.address, join(dir, 'addr-bad'), async m => await other.signMessage(m), /signed in as 0x/)
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`tabgrad volunteer: --address: the signature was made by ${other.address}, not ${wallet.address}: sign with that address's key\n`)
    const identity = await (await fetch(`${tracker.url}/api/identity/${wallet.address}`)).json() as { peerIds?: string[] }
    expect(identity.peerIds ?? []).toHaveLength(0)
  })

  it('a line that is not a signature: one line, exit 2', async () => {
    const r = await pasteSignature(Wallet.createRandom().address, join(dir, 'addr-garbage'), async () => '0x1234', /signed in as 0x/)
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('tabgrad volunteer: --address: not a signature: expected 0x and 130 hex digits (65 bytes), got "0x1234"\n')
  })

  it('--address with --wallet-key: the usage, exit 2', async () => {
    const r = await volunteer(link, '--address', Wallet.createRandom().address, '--wallet-key', join(dir, 'wallet.key'))
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^tabgrad volunteer: --address and --wallet-key are two ways to sign in: give one\nusage: tabgrad volunteer <campaign link>/)
  })
})
