// The real tracker for Node tests: in process, on free ports, each in a data directory of its own
// that goes away with it. Imported by tests only.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTracker, type Tracker } from './tracker.ts'
import type { TrackerConfig } from './config.ts'

export interface TestTrackers {
  /** A fresh temporary data directory (removed by cleanup). */
  dataDir(): Promise<string>
  /** A tracker on `dataDir` (a fresh directory by default), as a restart test starts one again on the same. */
  start(dataDir?: string, config?: Partial<TrackerConfig>): Promise<Tracker>
  /** Closes `t` now (a restart test then starts another on its directory). */
  close(t: Tracker): Promise<void>
  /** Closes every tracker still open and removes every directory made. */
  cleanup(): Promise<void>
}

export function testTrackers (prefix = 'tabgrad-test-'): TestTrackers {
  const open: Tracker[] = []
  const dirs: string[] = []
  const dataDir = async (): Promise<string> => {
    const dir = await mkdtemp(join(tmpdir(), prefix))
    dirs.push(dir)
    return dir
  }
  return {
    dataDir,
    async start (dir, config = {}) {
      const t = await startTracker({ host: '127.0.0.1', port: 0, relayPort: 0, dataDir: dir ?? await dataDir(), staticDir: 'public', ...config })
      open.push(t)
      return t
    },
    async close (t) {
      const i = open.indexOf(t)
      if (i >= 0) open.splice(i, 1)
      await t.close()
    },
    async cleanup () {
      await Promise.all(open.splice(0).map(async t => await t.close()))
      await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true })))
    }
  }
}
