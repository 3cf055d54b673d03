import { describe, expect, it } from 'vitest'
import { parseVolunteerArgs } from './volunteer-args.ts'
import { parseCampaignLink } from './campaign-link.ts'

const ID = '0123456789abcdef0123456789abcdef'

describe('parseCampaignLink', () => {
  it('takes the origin and the id of the links the app shares', () => {
    expect(parseCampaignLink(`https://tabgrad.example/#/c/${ID}`)).toEqual({ origin: 'https://tabgrad.example', campaignId: ID })
    expect(parseCampaignLink(`http://127.0.0.1:8080/#/c/${ID}`)).toEqual({ origin: 'http://127.0.0.1:8080', campaignId: ID })
  })

  it('ignores what follows the id (a pin segment, a query) and normalises case', () => {
    expect(parseCampaignLink(`https://t.example/#/c/${ID.toUpperCase()}/k/abc?x=1`).campaignId).toBe(ID)
    expect(parseCampaignLink(`https://t.example/#/c/${ID}?k=deadbeef`).campaignId).toBe(ID)
    expect(parseCampaignLink(`  https://t.example/app/#/c/${ID}  `).origin).toBe('https://t.example')
  })

  it('adds a scheme to a bare host: http for loopback, https otherwise', () => {
    expect(parseCampaignLink(`127.0.0.1:9000/#/c/${ID}`).origin).toBe('http://127.0.0.1:9000')
    expect(parseCampaignLink(`localhost:9000/#/c/${ID}`).origin).toBe('http://localhost:9000')
    expect(parseCampaignLink(`tabgrad.example/#/c/${ID}`).origin).toBe('https://tabgrad.example')
  })

  it.each([
    ['no id', 'https://t.example/'],
    ['a short id', `https://t.example/#/c/${ID.slice(1)}`],
    ['a longer hex run', `https://t.example/#/c/${ID}0`],
    ['another scheme', `file:///etc/#/c/${ID}`],
    ['credentials', `https://user:pw@t.example/#/c/${ID}`],
    ['no host', `#/c/${ID}`]
  ])('refuses %s with a BadLinkError', (_why, link) => {
    expect(() => parseCampaignLink(link)).toThrow(expect.objectContaining({ name: 'BadLinkError' }))
  })
})

describe('parseVolunteerArgs', () => {
  const link = `http://127.0.0.1:8080/#/c/${ID}`
  const env = { HOME: '/home/v' }

  it('has sensible defaults', () => {
    expect(parseVolunteerArgs([link], env)).toEqual({
      help: false, link: { origin: 'http://127.0.0.1:8080', campaignId: ID }, stage: null, dataDir: '/home/v/.tabgrad/volunteer', gpuBudget: 1, walletKeyFile: null,
      address: null, listen: ['/ip4/0.0.0.0/tcp/0']
    })
  })

  it('reads every option, in either spelling; --stage is 1-based', () => {
    const a = parseVolunteerArgs(['--stage', '2', link, '--data-dir=/srv/v', '--gpu-budget', '0.5', '--wallet-key', '/k'], env)
    expect(a).toMatchObject({ stage: 1, dataDir: '/srv/v', gpuBudget: 0.5, walletKeyFile: '/k' })
  })

  it('--listen takes a port, a TCP multiaddr or none (WebRTC only)', () => {
    expect(parseVolunteerArgs([link, '--listen', '4001'], env)).toMatchObject({ listen: ['/ip4/0.0.0.0/tcp/4001'] })
    expect(parseVolunteerArgs([link, '--listen', '/ip4/127.0.0.1/tcp/0'], env)).toMatchObject({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    expect(parseVolunteerArgs([link, '--listen', '/ip6/::/tcp/4001'], env)).toMatchObject({ listen: ['/ip6/::/tcp/4001'] })
    expect(parseVolunteerArgs([link, '--listen', 'none'], env)).toMatchObject({ listen: null })
  })

  it('--address is an Ethereum address, kept lower-case', () => {
    const address = '0xAbC0000000000000000000000000000000000123'
    expect(parseVolunteerArgs([link, '--address', address], env)).toMatchObject({ address: address.toLowerCase(), walletKeyFile: null })
  })

  it('refuses --address with --wallet-key', () => {
    expect(() => parseVolunteerArgs([link, '--address', `0x${'1'.repeat(40)}`, '--wallet-key', '/k'], env)).toThrow(expect.objectContaining({ name: 'ConflictingOptionsError' }))
  })

  it('answers --help', () => {
    expect(parseVolunteerArgs([link, '--help'], env)).toEqual({ help: true })
  })

  it.each([
    [[], 'missing the campaign link'],
    [[link, link], 'one campaign link expected'],
    [[link, '--stages', '2'], 'unknown option --stages'],
    [[link, '--stage'], '--stage needs a value'],
    [[link, '--stage', '0'], '--stage must be a stage number from 1'],
    [[link, '--stage', '1.5'], '--stage must be a stage number from 1'],
    [[link, '--gpu-budget', '0'], '--gpu-budget must be a fraction'],
    [[link, '--gpu-budget', '1.5'], '--gpu-budget must be a fraction'],
    [[link, '--gpu-budget', 'half'], '--gpu-budget must be a fraction'],
    [[link, '--listen', '/ip4/0.0.0.0/tcp/1/ws'], '--listen must be a port, a TCP multiaddr'],
    [[link, '--listen', 'everywhere'], '--listen must be a port, a TCP multiaddr'],
    [[link, '--listen', '70000'], '--listen port must be 0–65535'],
    [[link, '--address', '0x1234'], '--address must be an Ethereum address']
  ])('refuses %j with one line', (argv, message) => {
    let err: Error | undefined
    try { parseVolunteerArgs(argv, env) } catch (e) { err = e as Error }
    expect(err?.name).toBe('UsageError')
    expect(err?.message).toContain(message)
    expect(err?.message).not.toContain('\n')
  })

  it('refuses a bad link with a BadLinkError', () => {
    expect(() => parseVolunteerArgs(['https://t.example/#/c/xyz'], env)).toThrow(expect.objectContaining({ name: 'BadLinkError' }))
  })
})
