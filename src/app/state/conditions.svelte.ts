// What the browser says about this tab's circumstances: hidden or visible, on battery, online.
// The swarm state decides from these whether to pause itself (only where the volunteer asked for
// it, except offline, where no work can reach the tracker anyway).
interface BatteryLike extends EventTarget { charging: boolean }

class Conditions {
  hidden = $state(false)
  onBattery = $state(false)
  online = $state(true)
  #watching = false

  /** Starts listening (once per page). */
  watch (): void {
    if (this.#watching || typeof document === 'undefined') return
    this.#watching = true
    this.hidden = document.visibilityState === 'hidden'
    this.online = navigator.onLine
    document.addEventListener('visibilitychange', () => { this.hidden = document.visibilityState === 'hidden' })
    window.addEventListener('online', () => { this.online = true })
    window.addEventListener('offline', () => { this.online = false })
    const nav = navigator as Navigator & { getBattery?: () => Promise<BatteryLike> }
    void nav.getBattery?.().then(b => {
      this.onBattery = !b.charging
      b.addEventListener('chargingchange', () => { this.onBattery = !b.charging })
    }).catch(() => {})
  }
}

export const conditions = new Conditions()
