// A campaign's share link: `<origin>/#/c/<campaign id>?key=<pin>`. The pin names the tracker's
// signing key (ledger/merkle.ts trackerKeyPin), so a volunteer's browser checks the ledger's
// signed roots against the key the link's sender saw, not against whatever key the server
// presents later. A link without `?key=` (an old link, a typed URL) still opens the campaign;
// its checks are then unpinned. Browser and Node.
import { PIN_HEX_CHARS, trackerKeyPin } from '../ledger/merkle.ts'

/** `origin` without a trailing slash; `tracker` (its PeerId) adds the pin. */
export function formatShareLink (origin: string, id: string, tracker?: string): string {
  const base = `${origin.replace(/\/$/, '')}/#/c/${id}`
  return tracker == null ? base : `${base}?key=${trackerKeyPin(tracker)}`
}

export interface CampaignPath {
  id: string
  /**
   * The pin as the link gave it; null: no pin (an unpinned link). A pin that is not 32 lower-case
   * hex characters is kept as given: it matches no key, so checks against it fail (closed).
   */
  pin: string | null
}

/** Parses the hash path of a campaign page, `/c/<id>` or `/c/<id>?key=<pin>`; null: not one. */
export function parseCampaignPath (path: string): CampaignPath | null {
  const m = /^\/c\/([0-9a-f]{32})(?:\?(.*))?$/.exec(path)
  if (m == null) return null
  const pin = new URLSearchParams(m[2] ?? '').get('key')
  return { id: m[1], pin }
}

/** Whether a pin is well-formed (it may still name another key). */
export const isPin = (pin: string): boolean => pin.length === PIN_HEX_CHARS && /^[0-9a-f]+$/.test(pin)
