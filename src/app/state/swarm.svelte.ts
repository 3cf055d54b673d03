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

interface Saved { stage: number, weights?: Weights }

/** How often a running tab saves its weights locally. */
const SAVE_EVERY_MS = 15_000

export class SwarmState {
  snapshot = $state.raw<SwarmSnapshot | null>(null)
  status = $state.raw<SwarmStatus | null>(null)
  statusError = $state<string | null>(null)
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
        this.snapshot = s
        if (s.stage != null && (saved == null || saved.stage !== s.stage)) void kvSet(`swarm:${this.campaignId}`, { stage: s.stage })
      }
    })
    this.#tab = tab
    this.snapshot = tab.snapshot
    await tab.start()
    this.#save = setInterval(() => { void this.saveWeights() }, SAVE_EVERY_MS)
  }

  async saveWeights (): Promise<void> {
    const tab = this.#tab
    const s = this.snapshot
    if (tab == null || s?.stage == null || s.phase !== 'running') return
    const weights = await tab.exportWeights()
    await kvSet(`swarm:${this.campaignId}`, { stage: s.stage, weights })
  }

  pause (): void { this.#tab?.pause() }
  resume (): void { this.#tab?.resume() }

  async leave (): Promise<void> {
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
