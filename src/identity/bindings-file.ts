// Node only: bindings persisted as JSON lines (`{"address","peerId","time"}`), appended and
// fsynced before a sign-in is answered, reloaded on start.
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { createBindings, type Binding, type Bindings } from './bindings.ts'
import { BindingsFileError } from './errors.ts'

export interface BindingsFileInit {
  /** The tracker's data directory (`TABGRAD_DATA_DIR`); the file is `identity-bindings.jsonl` in it. */
  dataDir: string
  /**
   * PeerIds one address may bind.
   * @default MAX_PEERS_PER_ADDRESS
   */
  maxPeersPerAddress?: number
}

export interface BindingsFile extends Bindings {
  readonly path: string
  close(): void
}

export const BINDINGS_FILE_NAME = 'identity-bindings.jsonl'

export function openBindingsFile (init: BindingsFileInit): BindingsFile {
  const path = join(init.dataDir, BINDINGS_FILE_NAME)
  mkdirSync(dirname(path), { recursive: true })
  const text = existsSync(path) ? readFileSync(path, 'utf8') : ''

  // A line without its '\n' was cut short by a crash before the sign-in was answered: drop it.
  const complete = text.slice(0, text.lastIndexOf('\n') + 1)
  const initial: Binding[] = []
  complete.split('\n').slice(0, -1).forEach((line, i) => {
    try {
      const b = JSON.parse(line) as Binding
      if (typeof b.address !== 'string' || typeof b.peerId !== 'string' || typeof b.time !== 'number') throw new Error('fields')
      initial.push(b)
    } catch {
      throw new BindingsFileError(`${path}:${i + 1}: not a binding`)
    }
  })

  const fd = openSync(path, 'a+')
  if (complete.length < text.length) ftruncateSync(fd, Buffer.byteLength(complete))
  const bindings = createBindings({
    initial,
    maxPeersPerAddress: init.maxPeersPerAddress,
    persist (b) {
      writeSync(fd, JSON.stringify({ address: b.address, peerId: b.peerId, time: b.time }) + '\n')
      fsyncSync(fd)
    }
  })
  return Object.assign(bindings, { path, close: () => { closeSync(fd) } })
}
