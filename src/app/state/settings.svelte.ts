// The volunteer's settings, shared by every tab of this browser (one IndexedDB record).
import { kvGet, kvSet } from './tab-store.ts'

export interface VolunteerSettings {
  /** Share of time the GPU works: 0.25, 0.5 or 1. */
  budget: number
  pauseWhenHidden: boolean
  pauseOnBattery: boolean
  /** Asked the browser not to evict this tab's stored checkpoint and receipts. */
  persist: boolean
  /** How many tabs of this browser may contribute at once: they share one GPU. */
  maxTabs: number
  /** Keep the screen (and so the machine) awake while this tab contributes. */
  wakeLock: boolean
}

export const DEFAULT_SETTINGS: VolunteerSettings = { budget: 1, pauseWhenHidden: false, pauseOnBattery: false, persist: false, maxTabs: 4, wakeLock: false }
export const MAX_TABS_CHOICES = [1, 2, 4, 8] as const

class SettingsStore {
  settings = $state<VolunteerSettings>({ ...DEFAULT_SETTINGS })
  persistGranted = $state<boolean | null>(null)
  #loaded: Promise<void> | undefined

  load (): Promise<void> {
    this.#loaded ??= kvGet<Partial<VolunteerSettings>>('settings').then(stored => {
      if (stored != null) this.settings = sanitize({ ...DEFAULT_SETTINGS, ...stored })
    }).catch(() => {})
    return this.#loaded
  }

  async update (patch: Partial<VolunteerSettings>): Promise<void> {
    this.settings = sanitize({ ...this.settings, ...patch })
    await kvSet('settings', $state.snapshot(this.settings)).catch(() => {})
    if (patch.persist === true && navigator.storage?.persist != null) this.persistGranted = await navigator.storage.persist()
  }
}

function sanitize (s: VolunteerSettings): VolunteerSettings {
  const maxTabs = Number.isInteger(s.maxTabs) && s.maxTabs >= 1 && s.maxTabs <= 64 ? s.maxTabs : DEFAULT_SETTINGS.maxTabs
  return { ...s, maxTabs }
}

export const settingsStore = new SettingsStore()
