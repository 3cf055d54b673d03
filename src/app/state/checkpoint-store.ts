// One tab's saved place in a campaign: its stage, whether it means to contribute, and its
// latest checkpoint. Each tab slot has its own record (tab-slot.ts), and every write merges into
// it, so a status write never erases a checkpoint and a checkpoint never resets "left".
import type { Weights } from '../../net/weights.ts'
import { kvGet, kvMerge } from './tab-store.ts'
import { slotCampaignKey } from './tab-slot.ts'

export interface SavedPlace {
  stage?: number
  /** True while the volunteer means to contribute; false once they pressed "Leave". */
  active?: boolean
  /** Weights and the optimizer step they belong to, written together in one put. */
  checkpoint?: Weights
  /** When the checkpoint was written (ms since the epoch). */
  savedAt?: number
  /** Older builds kept the checkpoint here. */
  weights?: Weights
}

export class CheckpointStore {
  readonly #key: string

  constructor (slot: number, campaignId: string) {
    this.#key = slotCampaignKey(slot, campaignId)
  }

  async load (): Promise<SavedPlace | undefined> {
    return await kvGet<SavedPlace>(this.#key).catch(() => undefined)
  }

  /** The latest checkpoint, whichever field it was saved under. */
  static checkpointOf (p: SavedPlace | undefined): Weights | undefined {
    return p?.checkpoint ?? p?.weights
  }

  async setStage (stage: number): Promise<void> { await kvMerge<SavedPlace>(this.#key, { stage }) }
  async setActive (active: boolean): Promise<void> { await kvMerge<SavedPlace>(this.#key, { active }) }

  async saveCheckpoint (stage: number, checkpoint: Weights): Promise<void> {
    await kvMerge<SavedPlace>(this.#key, { stage, checkpoint: { step: checkpoint.step, params: checkpoint.params }, savedAt: Date.now() })
  }
}
