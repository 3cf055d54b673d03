// A campaign link as people share it: `https://host/#/c/<id>` (the app's hash route). Parsed
// leniently: anything after the 32-hex id (a pin segment, a query) is ignored, and a bare
// `host:port/#/c/<id>` gets `http://` for loopback hosts and `https://` otherwise.
import { BadLinkError } from './errors.ts'

export interface CampaignLink {
  /** The tracker's origin, e.g. `http://127.0.0.1:8080`. */
  origin: string
  /** The content-addressed campaign id: 32 lower-case hex digits. */
  campaignId: string
}

const ID = /#\/c\/([0-9a-fA-F]{32})(?![0-9a-fA-F])/
const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?(?:\/|$)/

export function parseCampaignLink (link: string): CampaignLink {
  const text = link.trim()
  const shown = text.length > 80 ? `${text.slice(0, 77)}…` : text
  const m = ID.exec(text)
  if (m == null) throw new BadLinkError(`not a campaign link: "${shown}" (expected https://host/#/c/<32 hex digits>)`)
  let base = text.slice(0, m.index)
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(base)) base = `${LOOPBACK.test(base) ? 'http' : 'https'}://${base}`
  let url: URL
  try {
    url = new URL(base)
  } catch {
    throw new BadLinkError(`not a campaign link: "${shown}" (the part before #/c/ is not a URL)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BadLinkError(`not a campaign link: "${shown}" (only http: and https: trackers)`)
  if (url.username !== '' || url.password !== '') throw new BadLinkError(`not a campaign link: "${shown}" (credentials in the link are not accepted)`)
  return { origin: url.origin, campaignId: m[1].toLowerCase() }
}
