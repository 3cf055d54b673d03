// Typed calls to the tracker's HTTP API (same origin as the app).
import type { CampaignManifest } from '../campaign/manifest.ts'

export interface CampaignSummary {
  id: string
  name: string
  builtin: boolean
  createdAt: string
  link: string
  status: { volunteers: number }
}

export interface CampaignDetail extends Omit<CampaignSummary, 'name'> {
  manifest: CampaignManifest
}

export class ApiError extends Error {
  override name = 'ApiError'
  constructor (readonly status: number, message: string, readonly body: unknown) { super(message) }
}

async function getJson<T> (path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, init)
  const body = await res.json().catch(() => null) as unknown
  if (!res.ok) throw new ApiError(res.status, (body as { error?: string } | null)?.error ?? `HTTP ${res.status}`, body)
  return body as T
}

/** Who this browser is signed in as on the tracker (auth/doors.ts): creating campaigns needs one. */
export type Session = { signedIn: false } | { signedIn: true, kind: 'researcher', address: string } | { signedIn: true, kind: 'admin' }

export const api = {
  session: async (): Promise<Session> => await getJson<Session>('/api/session'),
  campaigns: async (): Promise<CampaignSummary[]> => (await getJson<{ campaigns: CampaignSummary[] }>('/api/campaigns')).campaigns,
  campaign: async (id: string, signal?: AbortSignal): Promise<CampaignDetail> => await getJson<CampaignDetail>(`/api/campaigns/${id}`, signal != null ? { signal } : undefined),
  createCampaign: async (manifest: unknown): Promise<{ id: string, link: string }> =>
    await getJson('/api/campaigns', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(manifest) })
}
