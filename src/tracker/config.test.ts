import { describe, expect, it } from 'vitest'
import { parseTrackerConfig } from './config.ts'

describe('parseTrackerConfig', () => {
  it('uses the documented defaults', () => {
    expect(parseTrackerConfig([], {})).toEqual({ host: '127.0.0.1', port: 8080, relayPort: 8081, dataDir: './.tabgrad', staticDir: './dist' })
  })

  it('takes environment variables, and flags over them', () => {
    const env = { HOST: '0.0.0.0', PORT: '9000', TABGRAD_DATA_DIR: '/var/tg' }
    expect(parseTrackerConfig([], env)).toMatchObject({ host: '0.0.0.0', port: 9000, relayPort: 9001, dataDir: '/var/tg' })
    expect(parseTrackerConfig(['--port', '7000', '--data-dir=/x', '--relay-port', '7100'], env)).toMatchObject({ port: 7000, relayPort: 7100, dataDir: '/x' })
  })

  it('rejects bad ports and unknown flags with the usage', () => {
    expect(() => parseTrackerConfig(['--port', 'abc'], {})).toThrow(/port must be a port number/)
    expect(() => parseTrackerConfig([], { PORT: '70000' })).toThrow(/0-65535/)
    expect(() => parseTrackerConfig(['--bogus'], {})).toThrow(/unknown argument "--bogus"[\s\S]*usage/)
    expect(() => parseTrackerConfig(['--port'], {})).toThrow(/needs a value/)
    try { parseTrackerConfig(['--bogus'], {}) } catch (err) { expect((err as Error).name).toBe('ConfigError') }
  })
})
