// What a contributing page does as it goes away, and the optional screen Wake Lock.
import type { SwarmTab } from '../../train/swarm/swarm-tab.ts'

/**
 * On `pagehide` (close, reload, navigation to another site), says the tab left with a signed
 * keepalive request that outlives the page, so the tracker re-pools its leased microbatches at
 * once instead of waiting out their leases. Returns the unhook.
 */
export function handBackOnClose (tab: () => SwarmTab | null, _campaignId: string, peerId: string): () => void {
  const onHide = (): void => {
    const t = tab()
    if (t == null || peerId === '') return
    t.leaveOnUnload()
  }
  addEventListener('pagehide', onHide)
  return () => { removeEventListener('pagehide', onHide) }
}

/** Holds a screen Wake Lock while wanted; the browser drops it when the tab is hidden, so take it again on return. */
export class WakeLockHolder {
  #wanted = false
  #lock: WakeLockSentinel | null = null
  #listening = false

  want (on: boolean): void {
    if (on === this.#wanted) return
    this.#wanted = on
    if (!this.#listening && typeof document !== 'undefined') {
      this.#listening = true
      document.addEventListener('visibilitychange', () => { void this.#sync() })
    }
    void this.#sync()
  }

  async #sync (): Promise<void> {
    if (this.#wanted && this.#lock == null && document.visibilityState === 'visible' && 'wakeLock' in navigator) {
      this.#lock = await navigator.wakeLock.request('screen').catch(() => null)
      this.#lock?.addEventListener('release', () => { this.#lock = null })
    } else if (!this.#wanted && this.#lock != null) {
      await this.#lock.release().catch(() => {})
      this.#lock = null
    }
  }
}
