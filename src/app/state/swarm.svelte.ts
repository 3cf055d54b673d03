// This tab's part in a campaign's swarm, for the campaign page: owns the SwarmTab runtime, keeps
// the latest snapshot as $state.raw, polls the campaign's swarm status, saves the stage and a
// checkpoint so a reload resumes where it left off, and reacts to the tab's circumstances:
// hidden, offline, a lost GPU, another tab taking over, the page closing.
import { SwarmTab, type SwarmSnapshot } from '../../train/swarm/swarm-tab.ts'
import type { SwarmStatus } from '../../tracker/swarm/coordinator.ts'
import type { CampaignManifest } from '../../campaign/manifest.ts'
import { loadDataset } from '../../campaign/dataset.ts'
import type { DeviceLoss } from '../../gpu/device.ts'
import { unthrottledSleep } from '../../worker/client.ts'
import { isDirect } from '../../net/tab-node.ts'
import { gpu } from './gpu.svelte.ts'
import { network } from './network.svelte.ts'
import { CheckpointStore, type SavedPlace } from './checkpoint-store.ts'
import { claimContribution, type ContributionSlot } from './contribution-cap.ts'
import { conditions } from './conditions.svelte.ts'
import { settingsStore, type VolunteerSettings } from './settings.svelte.ts'
import { handBackOnClose, WakeLockHolder } from './page-lifecycle.ts'
import { receiptStore } from '../receipts/receipt-store.ts'
import { keptFrom } from '../receipts/kept-receipt.ts'

/** The campaign runtime this page runs now: at most one (they share the libp2p node and the worker). */
let current: SwarmState | null = null
export const currentSwarm = (): SwarmState | null => current

/** How often a running tab saves its weights locally. */
const SAVE_EVERY_MS = 15_000
/** Saves after optimizer steps come at most this often. */
const MIN_SAVE_INTERVAL_MS = 5_000

export class SwarmState {
  snapshot = $state.raw<SwarmSnapshot | null>(null)
  status = $state.raw<SwarmStatus | null>(null)
  statusError = $state<string | null>(null)
  /** Why the tab paused itself, if it did (hidden, battery, offline). */
  autoPaused = $state<string | null>(null)
  /** Something that happened to this tab that the volunteer should know (a lost GPU, a takeover). */
  notice = $state<string | null>(null)
  /** Set when this browser's cap of contributing tabs is reached: the tab may offer to take over. */
  capReached = $state(false)
  readonly campaignId: string
  readonly manifest: CampaignManifest
  #tab: SwarmTab | null = null
  #store: CheckpointStore | null = null
  #slot: ContributionSlot | null = null
  #stopWatch = new AbortController()
  #save: ReturnType<typeof setInterval> | undefined
  #savedAt = 0
  #saving: Promise<void> = Promise.resolve()
  #ended = false
  #ending: Promise<void> | undefined
  #unhook: Array<() => void> = []
  #wake = new WakeLockHolder()

  constructor (campaignId: string, manifest: CampaignManifest) {
    this.campaignId = campaignId
    this.manifest = manifest
  }

  get settings (): VolunteerSettings { return settingsStore.settings }
  get joined (): boolean { return this.#tab != null }

  /** Polls the campaign's swarm status until dispose(); a late answer never lands after that. */
  watch (): void {
    const signal = this.#stopWatch.signal
    const tick = async (): Promise<void> => {
      try {
        const res = await fetch(`/api/campaigns/${this.campaignId}/swarm`, { signal })
        if (!res.ok) throw new Error(`HTTP ${res.status}`)
        const body = await res.json() as SwarmStatus
        if (signal.aborted) return
        this.status = body
        this.statusError = null
      } catch (err) {
        if (!signal.aborted) this.statusError = `Could not reach the tracker: ${(err as Error).message}`
      }
    }
    void tick()
    const poll = setInterval(() => { void tick() }, 2000)
    signal.addEventListener('abort', () => { clearInterval(poll) })
  }

  /** Loads settings; true when this tab was contributing to the campaign before a reload. */
  async restore (): Promise<boolean> {
    await settingsStore.load()
    await network.start()
    if (network.slot == null) return false
    const saved = await new CheckpointStore(network.slot, this.campaignId).load()
    return saved?.active === true
  }

  async updateSettings (patch: Partial<VolunteerSettings>): Promise<void> {
    await settingsStore.update(patch)
    this.#tab?.setBudget(this.settings.budget)
    this.applyConditions()
  }

  /** Joins the swarm; `takeOver` steals a contribution slot from another tab of this browser. */
  async join (opts: { takeOver?: boolean } = {}): Promise<void> {
    if (this.#tab != null || this.#ended) return
    // One campaign runtime per tab: the previous campaign's hands its work back first.
    if (current != null && current !== this) await current.suspend()
    current = this
    await settingsStore.load()
    await network.start()
    if (network.node == null || network.privateKey == null || network.slot == null) throw new Error(network.error ?? 'not connected to the network')
    this.#slot ??= await claimContribution(this.settings.maxTabs, { steal: opts.takeOver === true })
    if (this.#slot == null) { this.capReached = true; return }
    this.capReached = false
    const lostSlot = this.#slot
    void lostSlot.lost.then(async () => {
      if (this.#slot !== lostSlot) return
      this.#slot = null
      this.notice = 'Another tab of this browser took over: this tab stopped contributing. Its place is kept.'
      await this.#stopRuntime()
    })
    this.#store = new CheckpointStore(network.slot, this.campaignId)
    await this.#store.setActive(true)
    await this.#startRuntime()
    this.#save = setInterval(() => { void this.saveWeights() }, SAVE_EVERY_MS)
    this.#unhook.push(handBackOnClose(() => this.#tab, this.campaignId, network.peerId ?? ''))
    this.#unhook.push(gpu.onDeviceLost(loss => { void this.#recover(loss) }))
  }

  async #startRuntime (): Promise<void> {
    const saved = await this.#store!.load()
    const checkpoint = CheckpointStore.checkpointOf(saved)
    const tab = new SwarmTab({
      campaignId: this.campaignId,
      manifest: this.manifest,
      origin: location.origin,
      node: network.node!,
      relayAddrs: network.relayAddrs,
      compute: gpu.worker.api,
      privateKey: network.privateKey!,
      sleep: unthrottledSleep,
      loadTokens: async onProgress => await loadDataset(this.manifest.dataset, { onProgress }),
      ...(saved?.stage != null ? { previousStage: saved.stage, ...(checkpoint != null ? { savedWeights: checkpoint } : {}) } : {}),
      onUpdate: s => { this.#onUpdate(tab, s, saved) },
      // Kept in this browser, so #/me can show work the ledger left out.
      onReceipt: r => { receiptStore.keep(keptFrom(r, network.peerId ?? '', Date.now())) }
    })
    this.#tab = tab
    tab.setBudget(this.settings.budget)
    this.snapshot = tab.snapshot
    await tab.start()
    this.applyConditions()
  }

  #onUpdate (tab: SwarmTab, s: SwarmSnapshot, saved: SavedPlace | undefined): void {
    if (tab !== this.#tab) return
    const stepped = this.snapshot != null && s.appliedStep !== this.snapshot.appliedStep
    // The weights it starts from (a replica's or the checkpoint) become the checkpoint at once.
    const started = s.phase === 'running' && this.snapshot?.phase !== 'running' && this.snapshot?.phase !== 'paused'
    const stageChanged = s.stage != null && s.stage !== this.snapshot?.stage
    this.snapshot = s
    // After optimizer steps, keep the local checkpoint fresh (a reload runs no unmount hooks).
    if (started || (stepped && Date.now() - this.#savedAt > MIN_SAVE_INTERVAL_MS)) void this.saveWeights()
    if (stageChanged && s.stage !== saved?.stage) void this.#store?.setStage(s.stage!)
    this.#wake.want(this.settings.wakeLock && (s.phase === 'running' || s.phase === 'paused'))
  }

  /** Saves the weights with their step (one at a time, so an older export never lands last). */
  saveWeights (): Promise<void> {
    this.#saving = this.#saving.then(async () => {
      const tab = this.#tab
      const s = this.snapshot
      if (tab == null || this.#store == null || s?.stage == null || (s.phase !== 'running' && s.phase !== 'paused')) return
      this.#savedAt = Date.now()
      const weights = await tab.exportWeights()
      if (tab === this.#tab) await this.#store.saveCheckpoint(s.stage, weights)
    }).catch(() => {})
    return this.#saving
  }

  /** Pauses for hidden (when asked), battery (when asked) or offline, and resumes what it paused itself. */
  applyConditions (): void {
    const tab = this.#tab
    if (tab == null) return
    const reason = !conditions.online
      ? 'Offline: paused until the network is back'
      : this.settings.pauseWhenHidden && conditions.hidden
        ? 'Paused while the tab is hidden'
        : this.settings.pauseOnBattery && conditions.onBattery ? 'Paused while on battery' : null
    const phase = this.snapshot?.phase
    if (reason != null && (phase === 'running' || (phase === 'paused' && this.autoPaused != null))) {
      if (this.autoPaused !== reason) { this.autoPaused = reason; tab.pause(reason) }
    } else if (reason == null && this.autoPaused != null) {
      this.autoPaused = null
      if (!conditions.online) return
      void network.reconnect().finally(() => { tab.resume() })
    }
  }

  /** Pauses by hand, and saves a checkpoint (a paused tab's weights only change at the next step). */
  pause (): void {
    this.autoPaused = null
    this.#tab?.pause()
    void this.saveWeights()
  }

  resume (): void { this.autoPaused = null; this.#tab?.resume() }

  /** A lost GPU: hand the work back, rebuild the stage on a new device from the checkpoint or a replica, rejoin. */
  async #recover (loss: DeviceLoss): Promise<void> {
    if (this.#tab == null || this.#ended) return
    this.notice = `The GPU device was lost (${loss.reason}${loss.message !== '' ? `: ${loss.message}` : ''}). Rebuilding this tab's stage on a new device…`
    await this.#stopRuntime()
    // Drop direct connections, as a restarted tab would: senders then see their receiver gone
    // and re-route its microbatches at once instead of waiting out the route timeout.
    for (const c of network.node?.getConnections() ?? []) if (isDirect(c)) await c.close().catch(() => {})
    await this.#startRuntime()
    const s = this.snapshot
    this.notice = s?.phase === 'running'
      ? `Recovered from a lost GPU device: rebuilt stage ${(s.stage ?? 0) + 1} at step ${s.appliedStep}${s.resumed ? ' from this tab\'s checkpoint or a replica' : ''} and rejoined.`
      : `The GPU device was lost and the stage could not be rebuilt: ${s?.error ?? 'unknown error'}`
  }

  /** Hands leases back and unregisters the runtime's protocol handlers; the saved place stays as it is. */
  async #stopRuntime (): Promise<void> {
    const tab = this.#tab
    this.#tab = null
    await tab?.leave()
    if (tab != null) this.snapshot = { ...tab.snapshot, phase: 'left', message: 'Stopped' }
  }

  /** Leaves on purpose: saves the weights and does not rejoin on the next visit. */
  async leave (): Promise<void> {
    this.#ended = true
    await this.#store?.setActive(false).catch(() => {})
    await (this.#ending ??= this.#end())
    this.notice = null
  }

  /** Navigation away or unmount: hand work back but keep "active", so coming back resumes. */
  async suspend (): Promise<void> {
    this.#ended = true
    await (this.#ending ??= this.#end())
  }

  async #end (): Promise<void> {
    clearInterval(this.#save)
    await this.saveWeights()
    for (const u of this.#unhook.splice(0)) u()
    await this.#stopRuntime()
    this.#wake.want(false)
    this.#slot?.release()
    this.#slot = null
    if (current === this) current = null
  }

  dispose (): void {
    this.#stopWatch.abort()
  }
}
