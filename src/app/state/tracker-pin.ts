// The tracker key a campaign's share link pinned (campaign/share-link.ts), kept in the profile's
// IndexedDB when the link is opened, so #/me checks that campaign's ledger roots against the
// key the link named rather than the one the server presents. The newest link opened wins: the
// link is what the volunteer chose to trust.
import { matchesPin } from '../../ledger/merkle.ts'
import { kvGet, kvSet } from './tab-store.ts'

const key = (campaign: string): string => `tracker-pin:${campaign}`

export async function rememberPin (campaign: string, pin: string): Promise<void> {
  await kvSet(key(campaign), pin)
}

/** The pin kept for a campaign; null: every link opened here was unpinned (or none was). */
export async function pinFor (campaign: string): Promise<string | null> {
  const pin = await kvGet<unknown>(key(campaign)).catch(() => undefined)
  return typeof pin === 'string' ? pin : null
}

export type PinCheck =
  | { status: 'unpinned' }
  | { status: 'matches', pin: string }
  | { status: 'mismatch', pin: string }

/** How the key the tracker presents (`tracker`, its PeerId) compares with the link's pin. */
export function checkPin (tracker: string, pin: string | null): PinCheck {
  if (pin == null) return { status: 'unpinned' }
  return matchesPin(tracker, pin) ? { status: 'matches', pin } : { status: 'mismatch', pin }
}

/** What the UI says about a pin check. */
export const PIN_MISMATCH = "This tracker's key does not match the one in your link: its ledger roots are refused. The server may have changed its key, or it is not the tracker your link came from."
export const PIN_UNPINNED = 'Your link named no tracker key, so the ledger is checked against the key this server presents. Open the campaign by its share link to pin it.'
