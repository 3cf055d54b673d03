// Spot-check verification with real tabs: stage 1 has three replicas, one of which (a test-only
// switch) returns noise instead of computing. It must be caught, excluded and never credited,
// while the honest replicas are verified and keep their share.
import { expect, test } from '@playwright/test'
import { runSwarm } from '../src/cli/swarm-runner.ts'

test('a cheating replica is caught by spot checks: excluded from routing, its share stays at zero', async () => {
  test.setTimeout(500_000)
  const run = await runSwarm({
    tabs: 4,
    stages: 2,
    steps: 3,
    // Stage 0 joins last, so training starts only once every stage-1 replica is in.
    stageHints: [1, 1, 1, 0],
    cheaters: [2],
    keepOpen: true,
    manifest: m => { m.training.accumulation = 2; m.training.sync_every = 1; m.spot_check_rate = 1 }
  })
  try {
    const { report, tracker, campaignId } = run
    expect(report.tabs.map(t => t.stage)).toEqual([1, 1, 1, 0])
    const cheater = report.tabs[2].peerId
    const honest = [report.tabs[0].peerId, report.tabs[1].peerId]

    const checks = tracker.swarm.spotChecks(campaignId)!
    expect(checks.flagged).toEqual([cheater])
    for (const p of honest) expect(checks.isVerified(p)).toBe(true)

    const status = await (await fetch(`${tracker.url}/api/campaigns/${campaignId}/swarm`)).json()
    const stage1 = status.stages[1].replicas as Array<{ peerId: string, excluded?: number }>
    expect(stage1.find(r => r.peerId === cheater)?.excluded).toBe(1)
    // Every volunteer's stage map marks it, and only it.
    const excludedBadge = run.pages[3].getByTestId('stage-map').getByTestId('replica-excluded')
    await expect(excludedBadge).toHaveCount(1)
    await expect(excludedBadge.locator('xpath=..')).toContainText(cheater.slice(-6))

    const own = await (await fetch(`${tracker.url}/api/campaigns/${campaignId}/ownership`)).json() as { total_flops: number, holders: Array<{ address: string, share: number }> }
    expect(own.total_flops).toBeGreaterThan(0)
    expect(own.holders.find(h => h.address === cheater)).toBeUndefined()
    expect(own.holders.find(h => h.address === report.tabs[3].peerId)!.share).toBeGreaterThan(0)
    expect(honest.some(p => (own.holders.find(h => h.address === p)?.share ?? 0) > 0)).toBe(true)
    expect(report.microbatches.lost).toBe(0)
  } finally {
    await run.close()
  }
})
