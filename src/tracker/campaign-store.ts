// Campaigns by id, persisted as one JSON file each under <dataDir>/campaigns so they survive restarts.
import { mkdir, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { campaignId, validateManifest, type CampaignManifest, type FieldError } from '../campaign/manifest.ts'
import { HttpError } from './errors.ts'
import { MAX_CAMPAIGNS } from './constants.ts'
import { writeFileDurable } from './durable-write.ts'

export interface CampaignRecord {
  id: string
  manifest: CampaignManifest
  createdAt: string
  builtin: boolean
}

export class ManifestInvalidError extends Error {
  override name = 'ManifestInvalidError'
  constructor (readonly errors: FieldError[]) {
    super(`invalid manifest: ${errors.map(e => `${e.path || '(root)'} ${e.message}`).join('; ')}`)
  }
}

export interface CampaignStore {
  list(): CampaignRecord[]
  get(id: string): CampaignRecord | undefined
  /** Validates and stores; an identical manifest returns the existing record. */
  create(input: unknown, opts?: { builtin?: boolean }): Promise<CampaignRecord>
}

export async function openCampaignStore (dataDir: string): Promise<CampaignStore> {
  const dir = join(dataDir, 'campaigns')
  await mkdir(dir, { recursive: true })
  const records = new Map<string, CampaignRecord>()
  for (const f of (await readdir(dir)).filter(f => f.endsWith('.json')).sort()) {
    try {
      const rec = JSON.parse(await readFile(join(dir, f), 'utf8')) as CampaignRecord
      const v = validateManifest(rec.manifest)
      if (v.ok && await campaignId(v.manifest) === rec.id) records.set(rec.id, rec)
    } catch { /* a corrupt file is skipped, never fatal */ }
  }
  return {
    list: () => [...records.values()].sort((a, b) => Number(b.builtin) - Number(a.builtin) || a.createdAt.localeCompare(b.createdAt)),
    get: id => records.get(id),
    async create (input, opts = {}) {
      const v = validateManifest(input)
      if (!v.ok) throw new ManifestInvalidError(v.errors)
      const id = await campaignId(v.manifest)
      const existing = records.get(id)
      if (existing != null) return existing
      if (records.size >= MAX_CAMPAIGNS) throw new HttpError(507, `this tracker holds its limit of ${MAX_CAMPAIGNS} campaigns`)
      const rec: CampaignRecord = { id, manifest: v.manifest, createdAt: new Date().toISOString(), builtin: opts.builtin ?? false }
      if (!rec.builtin) {
        const path = join(dir, `${id}.json`)
        await writeFileDurable(path, JSON.stringify(rec, null, 2))
      }
      records.set(id, rec)
      return rec
    }
  }
}
