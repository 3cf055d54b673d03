// What a campaign's swarm must not forget across a tracker restart, beyond the ledger: the peers
// that failed verification (they stay out of routing and their share stays withheld). The step
// and the done set are rebuilt from the ledger itself (Coordinator.restoreDone), which already
// holds every credited microbatch durably; a second copy could only disagree with it.
//
// One small JSON file per campaign, written with write → fsync → rename (durable-write.ts), so a
// crash leaves the old file or the new one, never half of one.
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileDurable } from '../durable-write.ts'

export interface SwarmState {
  version: 1
  /** PeerIds flagged by spot checks (or that skipped too many), in the order they were excluded. */
  excluded: string[]
  /** The secret (hex, 32 bytes) that picks which microbatches spot checks cover; made on first use. */
  spotSecret?: string
}

/** A state file that is not ours: the tracker will not guess who was flagged. */
export class SwarmStateError extends Error {
  override name = 'SwarmStateError'
}

export interface SwarmStateStore {
  /** The campaign's saved state (empty if none was saved). */
  load(campaignId: string): SwarmState
  /** Replaces the campaign's state; resolves once it is durable. Saves of one campaign run in order. */
  save(campaignId: string, state: SwarmState): Promise<void>
}

const PEER = /^[1-9A-HJ-NP-Za-km-z]{32,64}$/

export function parseSwarmState (text: string, where: string): SwarmState {
  let v: unknown
  try { v = JSON.parse(text) } catch { throw new SwarmStateError(`${where} is not JSON`) }
  const s = v as Partial<SwarmState> | null
  if (s?.version !== 1 || !Array.isArray(s.excluded) || !s.excluded.every(p => typeof p === 'string' && PEER.test(p))) {
    throw new SwarmStateError(`${where} is not a swarm state file (version 1, excluded PeerIds)`)
  }
  if (s.spotSecret != null && (typeof s.spotSecret !== 'string' || !/^[0-9a-f]{64}$/.test(s.spotSecret))) throw new SwarmStateError(`${where}: spotSecret must be 64 hex digits`)
  return { version: 1, excluded: [...s.excluded], ...(s.spotSecret != null ? { spotSecret: s.spotSecret } : {}) }
}

/** State files under `<dataDir>/swarm/`; `dataDir` undefined keeps state in memory only (tests). */
export function openSwarmStateStore (dataDir: string | undefined): SwarmStateStore {
  const memory = new Map<string, SwarmState>()
  const queues = new Map<string, Promise<void>>()
  const dir = dataDir != null ? join(dataDir, 'swarm') : null
  if (dir != null) mkdirSync(dir, { recursive: true })
  const fileOf = (id: string): string => join(dir!, `${id}.json`)

  return {
    load (id) {
      const held = memory.get(id)
      if (held != null) return { ...held, excluded: [...held.excluded] }
      if (dir == null) return { version: 1, excluded: [] }
      let text: string
      try {
        text = readFileSync(fileOf(id), 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, excluded: [] }
        throw err
      }
      const state = parseSwarmState(text, fileOf(id))
      memory.set(id, state)
      return { ...state, excluded: [...state.excluded] }
    },
    async save (id, state) {
      memory.set(id, { ...state, excluded: [...state.excluded] })
      if (dir == null) return
      const text = JSON.stringify(state)
      const prev = queues.get(id) ?? Promise.resolve()
      const next = prev.catch(() => {}).then(async () => { await writeFileDurable(fileOf(id), text) })
      queues.set(id, next)
      await next
    }
  }
}
