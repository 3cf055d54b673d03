// The receipts export: every ledger record crediting this tab in one campaign, with its signed
// receipts, inclusion proof and signed epoch root, so anyone can re-check them offline
// (ledger/merkle.ts verifyInclusion + verifyEpochRoot against `tracker`).
import type { CreditedRecord } from './campaign-credit.svelte.ts'

export interface ReceiptsExport {
  format: 'tabgrad-receipts/1'
  campaign: string
  campaignName: string
  /** The tracker's PeerId: the key the epoch roots are signed with. */
  tracker: string
  /** The tracker key the share link pinned (ledger/merkle.ts trackerKeyPin); null: unpinned. */
  pin: string | null
  origin: string
  peerId: string
  /** The address this PeerId is bound to, if it signed in. */
  address: string | null
  exportedAt: string
  records: Array<{
    record: CreditedRecord['record']
    proof: CreditedRecord['proof'] | null
    epoch: CreditedRecord['epoch'] | null
    /** The check this browser ran when exporting. */
    status: CreditedRecord['status']
  }>
}

export function buildExport (init: Omit<ReceiptsExport, 'format' | 'exportedAt' | 'records' | 'origin'>, records: readonly CreditedRecord[]): ReceiptsExport {
  return {
    format: 'tabgrad-receipts/1',
    ...init,
    origin: location.origin,
    exportedAt: new Date().toISOString(),
    records: records.map(r => ({ record: r.record, proof: r.proof ?? null, epoch: r.epoch ?? null, status: r.status }))
  }
}

/** Saves `data` as a JSON file through a temporary object URL. */
export function downloadJson (data: unknown, filename: string): void {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: 'application/json' }))
  const a = document.createElement('a')
  a.href = url
  a.download = filename
  document.body.append(a)
  a.click()
  a.remove()
  // Revoke after the click has been handled (Firefox reads the URL asynchronously).
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}
