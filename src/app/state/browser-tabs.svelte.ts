// This browser's tabs, seen from any one of them: every tab announces what it does on a
// BroadcastChannel every couple of seconds; each page lists the announcements it heard recently.
// Same-origin only, but still checked field by field before it reaches the UI.
export interface TabAnnouncement {
  slot: number
  peerId: string
  campaign: string | null
  stage: number | null
  phase: string
  microbatches: number
  at: number
}

const CHANNEL = 'tabgrad-tabs'
const ANNOUNCE_MS = 2000
/** An announcement older than this means the tab went away without saying so. */
const EXPIRY_MS = 6000

/** Whether a message from the channel is an announcement (or a goodbye) this page can show. */
export function validAnnouncement (x: unknown): x is TabAnnouncement | { slot: number, gone: true } {
  if (typeof x !== 'object' || x == null) return false
  const a = x as Record<string, unknown>
  if (!Number.isInteger(a.slot) || (a.slot as number) < 0 || (a.slot as number) > 1024) return false
  if (a.gone === true) return true
  return typeof a.peerId === 'string' && a.peerId.length < 100 &&
    (a.campaign === null || (typeof a.campaign === 'string' && /^[0-9a-f]{32}$/.test(a.campaign))) &&
    (a.stage === null || Number.isInteger(a.stage)) && typeof a.phase === 'string' && a.phase.length < 32 &&
    Number.isFinite(a.microbatches) && Number.isFinite(a.at)
}

class BrowserTabs {
  /** Other tabs' latest announcements and this tab's own, by slot. */
  tabs = $state.raw<TabAnnouncement[]>([])
  #heard = new Map<number, TabAnnouncement>()
  #channel: BroadcastChannel | undefined
  #mine: (() => Omit<TabAnnouncement, 'at'> | null) | undefined

  /** Starts announcing what `describe` returns (null: nothing to say yet) and listening to the others. */
  start (describe: () => Omit<TabAnnouncement, 'at'> | null): void {
    this.#mine = describe
    if (this.#channel != null || typeof BroadcastChannel === 'undefined') return
    const ch = new BroadcastChannel(CHANNEL)
    this.#channel = ch
    ch.onmessage = e => {
      if (!validAnnouncement(e.data)) return
      if ('gone' in e.data) this.#heard.delete(e.data.slot)
      else this.#heard.set(e.data.slot, { ...e.data, at: Date.now() })
      this.#refresh()
    }
    setInterval(() => { this.announce() }, ANNOUNCE_MS)
    addEventListener('pagehide', () => {
      const me = this.#mine?.()
      if (me != null) ch.postMessage({ slot: me.slot, gone: true })
    })
    this.announce()
  }

  /** Tells the other tabs (and this page's list) what this tab does now. */
  announce (): void {
    const me = this.#mine?.()
    if (me == null) return
    const a: TabAnnouncement = { ...me, at: Date.now() }
    this.#channel?.postMessage(a)
    this.#heard.set(a.slot, a)
    this.#refresh()
  }

  #refresh (): void {
    const now = Date.now()
    for (const [slot, a] of this.#heard) if (now - a.at > EXPIRY_MS) this.#heard.delete(slot)
    this.tabs = [...this.#heard.values()].sort((a, b) => a.slot - b.slot)
  }
}

export const browserTabs = new BrowserTabs()
