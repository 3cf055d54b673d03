// writeFileDurable: the target holds the old bytes or the new ones, never a mix, and no
// temporary file is left behind, also when the write fails.
import { afterEach, expect, it } from 'vitest'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeFileDurable } from './durable-write.ts'

const dirs: string[] = []
afterEach(async () => { await Promise.all(dirs.splice(0).map(async d => await rm(d, { recursive: true, force: true }))) })

it('replaces the file whole, with the mode asked for, and leaves no temporary file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tabgrad-durable-'))
  dirs.push(dir)
  const path = join(dir, 'key')
  await writeFile(path, 'old')
  await writeFileDurable(path, 'new bytes', { mode: 0o600 })
  expect(await readFile(path, 'utf8')).toBe('new bytes')
  expect((await stat(path)).mode & 0o777).toBe(0o600)
  expect(await readdir(dir)).toEqual(['key'])
})

it('a failed rename leaves the old target as it was and cleans up', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tabgrad-durable-'))
  dirs.push(dir)
  // A non-empty directory in the target's place: rename over it fails.
  const path = join(dir, 'campaign.json')
  await mkdir(path)
  await writeFile(join(path, 'inside'), 'keep')
  await expect(writeFileDurable(path, '{"id":1}')).rejects.toThrow()
  expect(await readdir(dir)).toEqual(['campaign.json'])
  expect(await readFile(join(path, 'inside'), 'utf8')).toBe('keep')
})
