// No test code in production: the cheat switch of the verification tests (a fault-injecting
// wrapper around the compute worker, src/worker/faults.ts) exists only in the test build
// (npm run build:faults → dist-faults/). The production build, source maps included, holds none
// of it; the test build does, which shows the search would find it. No browser needed.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from '@playwright/test'

/** Strings only the fault injection contains (its window switch, its module names, its error). */
const MARKERS = ['__tabgradCheat', 'installFaults', 'faults-entry', 'worker is not a getter', 'setCheat']

function filesUnder (dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? filesUnder(p) : [p]
  })
}

function hits (dir: string): string[] {
  const found: string[] = []
  for (const f of filesUnder(dir).filter(f => /\.(js|mjs|html|map|css|json)$/.test(f))) {
    const text = readFileSync(f, 'utf8')
    for (const m of MARKERS) if (text.includes(m)) found.push(`${f}: ${m}`)
  }
  return found
}

test('the production build carries no cheat switch; the test build does', () => {
  expect(existsSync('dist/index.html'), 'run `npm run build` first').toBe(true)
  expect(existsSync('dist-faults/index.html'), 'run `npm run build:faults` first').toBe(true)
  expect(hits('dist')).toEqual([])
  const inTestBuild = hits('dist-faults')
  expect(inTestBuild.some(h => h.endsWith('__tabgradCheat'))).toBe(true)
})
