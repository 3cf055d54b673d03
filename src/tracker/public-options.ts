// Parsing of the settings that put a tracker on the internet: its public URL, STUN/TURN servers and
// the proxies whose X-Forwarded-* headers it believes. Each parser throws a one-line message.
import { isIP } from 'node:net'

export class OptionError extends Error {
  override name = 'OptionError'
}

/**
 * `https://train.example.org` (or `http://…` for a LAN): scheme and host, optional port, nothing
 * else. Returns the normalised origin without a trailing slash.
 */
export function parsePublicUrl (value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new OptionError(`public URL "${value}" is not a URL; expected e.g. https://train.example.org`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new OptionError(`public URL must start with https:// (or http:// on a LAN), got "${value}"`)
  if (url.username !== '' || url.password !== '') throw new OptionError('public URL must not carry a user name or password')
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new OptionError(`public URL must be an origin only (no path, query or fragment), got "${value}"`)
  }
  return url.origin
}

// host: a DNS name, an IPv4 address or a bracketed IPv6 address; port optional.
const HOST = String.raw`(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])`
const PORT = String.raw`(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}))?`
const STUN_URL = new RegExp(`^stuns?:${HOST}${PORT}$`, 'i')
const TURN_URL = new RegExp(`^turns?:${HOST}${PORT}(?:\\?transport=(?:udp|tcp))?$`, 'i')

/** A comma-separated list of `stun:`/`stuns:` URLs (RFC 7064). */
export function parseStunUrls (value: string): string[] {
  return splitList(value).map(u => {
    if (!STUN_URL.test(u)) throw new OptionError(`"${u}" is not a STUN URL; expected stun:host[:port]`)
    return u
  })
}

/** A comma-separated list of `turn:`/`turns:` URLs (RFC 7065), optionally with `?transport=udp|tcp`. */
export function parseTurnUrls (value: string): string[] {
  return splitList(value).map(u => {
    if (!TURN_URL.test(u)) throw new OptionError(`"${u}" is not a TURN URL; expected turn:host[:port][?transport=udp|tcp] or turns:host[:port]`)
    return u
  })
}

/** coturn's `static-auth-secret`: long enough that credentials cannot be guessed offline. */
export function parseTurnSecret (value: string): string {
  if (value.length < 16) throw new OptionError('the TURN secret must be at least 16 characters (use the same value as coturn\'s static-auth-secret)')
  if (/[\s]/.test(value)) throw new OptionError('the TURN secret must not contain whitespace')
  return value
}

/** Addresses of reverse proxies allowed to set X-Forwarded-For/-Proto/-Host (IPv4 or IPv6 literals). */
export function parseTrustedProxies (value: string): string[] {
  return splitList(value).map(a => {
    if (isIP(a) === 0) throw new OptionError(`trusted proxy "${a}" is not an IP address`)
    return a
  })
}

function splitList (value: string): string[] {
  const items = value.split(',').map(s => s.trim()).filter(s => s !== '')
  if (items.length === 0) throw new OptionError('expected a comma-separated list, got an empty value')
  if (items.length > 16) throw new OptionError('at most 16 entries are accepted')
  return items
}
