// This tab's part in a campaign's swarm, for the campaign page: owns the SwarmTab runtime, keeps
// the latest snapshot as $state.raw, polls the campaign's swarm status, and saves the stage and
// its weights in IndexedDB so a reload resumes where it left off.
import { SwarmTab, type SwarmSnapshot } from '../../train/swarm/swarm-tab.ts'
import type { SwarmStatus } from '../../tracker/swarm/coordinator.ts'
import type { CampaignManifest } from '../../campaign/manifest.ts'
import { loadDataset } from '../../campaign/dataset.ts'
import type { Weights } from '../../net/weights.ts'
import { gpu } from './gpu.svelte.ts'
import { network } from './network.svelte.ts'
import { kvGet, kvSet } from './tab-store.ts'

interface Saved { stage: number, weights?: Weights, active?: boolean }

export interface VolunteerSettings {
  /** Share of time the GPU works: 0.25, 0.5 or 1. */
  budget: number
  pauseWhenHidden: boolean
  pauseOnBattery: boolean
  /** Asked the browser not to evict this tab's stored checkpoint and receipts. */
  persist: boolean
}

const DEFAULT_SETTINGS: VolunteerSettings = { budget: 1, pauseWhenHidden: false, pauseOnBattery: false, persist: false }

interface BatteryLike extends EventTarget { charging: boolean }

/** How often a running tab saves its weights locally. */
const SAVE_EVERY_MS = 15_000
/** Saves after optimizer steps come at most this often. */
const MIN_SAVE_INTERVAL_MS = 5_000

export class SwarmState {
  snapshot = $state.raw<SwarmSnapshot | null>(null)
  status = $state.raw<SwarmStatus | null>(null)
  statusError = $state<string | null>(null)
  settings = $state<VolunteerSettings>({ ...DEFAULT_SETTINGS })
  /** Why the tab paused itself, if it did (hidden, battery). */
  autoPaused = $state<string | null>(null)
  persistGranted = $state<boolean | null>(null)
  readonly campaignId: string
  readonly manifest: CampaignManifest
  #tab: SwarmTab | null = null
  #poll: ReturnType<typeof setInterval> | undefined
  #save: ReturnType<typeof setInterval> | undefined

  constructor (campaignId: string, manifest: CampaignManifest) {
    this.campaignId = campaignId
    this.manifest = manifest
  }

  watch (): void {
    const tick = async (): Promise<void> => {
      try {
        const res = await fetch(`/api/campaigns/${this.campaignId}/swarm`)
        if (!res.ok) throw new Error(`HTTP ${res.status}`)
        this.status = await res.json() as SwarmStatus
        this.statusError = null
      } catch (err) {
        this.statusError = `Could not reach the tracker: ${(err as Error).message}`
      }
    }
    void tick()
    this.#poll ??= setInterval(() => { void tick() }, 2000)
  }

  get joined (): boolean { return this.#tab != null }

  /** Loads settings; true when this tab was contributing to the campaign before a reload. */
  async restore (): Promise<boolean> {
    const stored = await kvGet<VolunteerSettings>('settings').catch(() => undefined)
    if (stored != null) this.settings = { ...DEFAULT_SETTINGS, ...stored }
    const saved = await kvGet<Saved>(`swarm:${this.campaignId}`).catch(() => undefined)
    return saved?.active === true
  }

  async updateSettings (patch: Partial<VolunteerSettings>): Promise<void> {
    this.settings = { ...this.settings, ...patch }
    await kvSet('settings', $state.snapshot(this.settings)).catch(() => {})
    this.#tab?.setBudget(this.settings.budget)
    if (patch.persist === true && navigator.storage?.persist != null) this.persistGranted = await navigator.storage.persist()
    this.#applyAutoPause()
  }

  #battery: BatteryLike | null = null
  #savedAt = 0

  #watchPower (): void {
    document.addEventListener('visibilitychange', () => { this.#applyAutoPause() })
    const nav = navigator as Navigator & { getBattery?: () => Promise<BatteryLike> }
    void nav.getBattery?.().then(b => {
      this.#battery = b
      b.addEventListener('chargingchange', () => { this.#applyAutoPause() })
      this.#applyAutoPause()
    }).catch(() => {})
  }

  /** Pauses while hidden or on battery (when opted in) and resumes what it paused itself. */
  #applyAutoPause (): void {
    const tab = this.#tab
    if (tab == null) return
    const reason = this.settings.pauseWhenHidden && document.visibilityState === 'hidden'
      ? 'Paused while the tab is hidden'
      : this.settings.pauseOnBattery && this.#battery != null && !this.#battery.charging ? 'Paused while on battery' : null
    if (reason != null && this.snapshot?.phase === 'running') {
      this.autoPaused = reason
      tab.pause(reason)
    } else if (reason == null && this.autoPaused != null) {
      this.autoPaused = null
      tab.resume()
    }
  }

  async join (): Promise<void> {
    if (this.#tab != null) return
    await network.start()
    if (network.node == null || network.privateKey == null) throw new Error(network.error ?? 'not connected to the network')
    const saved = await kvGet<Saved>(`swarm:${this.campaignId}`).catch(() => undefined)
    const tab = new SwarmTab({
      campaignId: this.campaignId,
      manifest: this.manifest,
      origin: location.origin,
      node: network.node,
      relayAddrs: network.relayAddrs,
      compute: gpu.worker.api,
      privateKey: network.privateKey,
      loadTokens: async onProgress => await loadDataset(this.manifest.dataset, { onProgress }),
      ...(saved != null ? { previousStage: saved.stage, ...(saved.weights != null ? { savedWeights: saved.weights } : {}) } : {}),
      onUpdate: s => {
        const stepped = this.snapshot != null && s.appliedStep !== this.snapshot.appliedStep
        this.snapshot = s
        // After optimizer steps, keep the local checkpoint fresh (a reload runs no unmount hooks).
        if (stepped && Date.now() - this.#savedAt > MIN_SAVE_INTERVAL_MS) void this.saveWeights()
        if (s.stage != null && (saved == null || saved.stage !== s.stage)) void kvSet(`swarm:${this.campaignId}`, { stage: s.stage, active: true })
      }
    })
    this.#tab = tab
    tab.setBudget(this.settings.budget)
    this.snapshot = tab.snapshot
    this.#watchPower()
    await tab.start()
    this.#save = setInterval(() => { void this.saveWeights() }, SAVE_EVERY_MS)
  }

  async saveWeights (): Promise<void> {
    const tab = this.#tab
    const s = this.snapshot
    if (tab == null || s?.stage == null || (s.phase !== 'running' && s.phase !== 'paused')) return
    this.#savedAt = Date.now()
    const weights = await tab.exportWeights()
    await kvSet(`swarm:${this.campaignId}`, { stage: s.stage, weights, active: true })
  }

  pause (): void { this.autoPaused = null; this.#tab?.pause() }
  resume (): void { this.autoPaused = null; this.#tab?.resume() }

  /** Leaves on purpose: saves the weights and does not rejoin on the next visit. */
  async leave (): Promise<void> {
    clearInterval(this.#save)
    await this.saveWeights().catch(() => {})
    const saved = await kvGet<Saved>(`swarm:${this.campaignId}`).catch(() => undefined)
    if (saved != null) await kvSet(`swarm:${this.campaignId}`, { ...saved, active: false }).catch(() => {})
    await this.#tab?.leave()
  }

  /** The page is going away (reload, navigation): hand work back but stay "active" to resume. */
  async suspend (): Promise<void> {
    clearInterval(this.#save)
    await this.saveWeights().catch(() => {})
    await this.#tab?.leave()
  }

  dispose (): void {
    clearInterval(this.#poll)
    clearInterval(this.#save)
    this.#poll = undefined
  }
}
