// A volunteer reloads the tab mid-run: it comes back as the same PeerId on the same stage, says it
// resumed, and the campaign finishes with nothing lost. It is the only replica of its stage, so
// the run cannot finish unless the tab really rejoins.
import { expect, test, type Page } from '@playwright/test'
import { runSwarm } from '../src/cli/swarm-runner.ts'

test('a reload resumes the same stage from IndexedDB and training completes', async () => {
  test.setTimeout(400_000)
  let tab1: Page | undefined
  let reload: Promise<void> | undefined
  const run = await runSwarm({
    tabs: 2,
    stages: 2,
    steps: 5,
    keepOpen: true,
    manifest: m => { m.training.accumulation = 2 },
    preparePage: async (page, i) => { if (i === 1) tab1 = page },
    log: line => {
      const m = /^step (\d+)\//.exec(line)
      if (m != null && Number(m[1]) >= 2 && reload == null && tab1 != null) reload = tab1.reload().then(() => {})
    }
  })
  try {
    await reload
    const page = tab1!
    expect(run.report.steps).toHaveLength(5)
    expect(run.report.microbatches.lost).toBe(0)
    // No click after the reload: the page rejoined by itself, as the same PeerId, on stage 1.
    await expect(page.getByTestId('my-stage')).toHaveAttribute('data-stage', '1')
    await expect(page.getByTestId('resumed')).toBeVisible()
    await expect(page.getByTestId('tab-dashboard')).toHaveAttribute('data-peer', run.report.tabs[1].peerId)
  } finally {
    await run.close()
  }
})
