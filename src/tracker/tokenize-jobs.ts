// Tokenization jobs on the tracker: one worker thread per job, progress kept for the UI to poll
// (`GET /api/datasets/jobs/:id`), the result a content-addressed token file. A job's id is derived
// from its input (text digest and tokenizer), so the same upload twice is one job.
import { Worker } from 'node:worker_threads'
import { createHash } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseTokenFileMeta, type TokenFileMeta } from '../data/token-file.ts'
import type { TokenizerName } from '../tokenizer/tokenizer.ts'
import type { TokenizeWorkerInput, TokenizeWorkerMessage } from './tokenize-worker.ts'

export interface TokenizeJob {
  id: string
  status: 'running' | 'done' | 'error'
  /** characters tokenized so far, of `total` */
  done: number
  total: number
  tokens: number
  meta: TokenFileMeta | null
  error: string | null
}

/** At most this many tokenizations at once: each holds its text and ids in memory (~6 bytes/char). */
export const MAX_RUNNING_JOBS = 2

export interface TokenizeJobs {
  /** starts (or returns the existing) job for this input */
  start: (key: string, input: TokenizeWorkerInput) => TokenizeJob
  get: (id: string) => TokenizeJob | undefined
}

export function jobId (key: string, tokenizer: TokenizerName): string {
  return createHash('sha256').update(`${tokenizer}\0${key}`).digest('hex').slice(0, 32)
}

export function createTokenizeJobs (): TokenizeJobs {
  const jobs = new Map<string, TokenizeJob>()
  const running = (): number => [...jobs.values()].filter(j => j.status === 'running').length

  function start (key: string, input: TokenizeWorkerInput): TokenizeJob {
    const id = jobId(key, input.tokenizer)
    const existing = jobs.get(id)
    if (existing != null && existing.status !== 'error') return existing
    const job: TokenizeJob = { id, status: 'running', done: 0, total: 0, tokens: 0, meta: null, error: null }
    jobs.set(id, job)
    if (running() > MAX_RUNNING_JOBS) { job.status = 'error'; job.error = 'the tracker is busy tokenizing other uploads: try again in a minute'; return job }
    void spawn(job, input)
    return job
  }

  return { start, get: id => jobs.get(id) }
}

async function spawn (job: TokenizeJob, input: TokenizeWorkerInput): Promise<void> {
  try {
    await mkdir(input.outDir, { recursive: true })
    // The worker is TypeScript: its plain-JS entry loads it through tsx, whatever started us (tsx,
    // vitest). No inherited flags: the tracker's `--import …/register.ts` would run before tsx is in place.
    const worker = new Worker(new URL('./tokenize-worker-entry.mjs', import.meta.url), { workerData: input, execArgv: [] })
    await new Promise<void>(resolve => {
      worker.on('message', (m: TokenizeWorkerMessage) => {
        if (m.type === 'progress') { job.done = m.done; job.total = m.total; job.tokens = m.tokens } else if (m.type === 'done') { job.meta = m.meta; job.status = 'done'; job.done = job.total } else { job.error = m.message; job.status = 'error' }
      })
      worker.on('error', err => { job.error = err.message; job.status = 'error'; resolve() })
      worker.on('exit', code => {
        if (job.status === 'running') { job.status = 'error'; job.error = `the tokenizer stopped (exit code ${code})` }
        resolve()
      })
    })
  } catch (err) {
    job.status = 'error'; job.error = (err as Error).message
  }
}

/** A token file's sidecar from the dataset directory, or null when absent or unreadable. */
export async function readSidecar (dir: string, sha256: string): Promise<TokenFileMeta | null> {
  try {
    return parseTokenFileMeta(JSON.parse(await readFile(join(dir, `${sha256}.bin.json`), 'utf8')))
  } catch {
    return null
  }
}
