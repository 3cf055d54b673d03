// How many tabs of this browser contribute at once. They share one GPU, so past a few tabs each
// one only slows the others. A contributing tab holds one of `cap` Web Locks; a tab that finds
// them all taken can steal one ("take over"), and the tab it was stolen from stops contributing.
// Locks are released by the browser when a tab closes or crashes, so no slot leaks.
const lockName = (i: number): string => `tabgrad-contribute-${i}`

export interface ContributionSlot {
  index: number
  /** Resolves when another tab took this slot over (never when released here). */
  lost: Promise<void>
  release(): void
}

/** A free slot under `cap`, or null when `cap` tabs of this browser already contribute. */
export async function claimContribution (cap: number, opts: { steal?: boolean } = {}): Promise<ContributionSlot | null> {
  if (typeof navigator === 'undefined' || navigator.locks == null) return { index: 0, lost: new Promise(() => {}), release: () => {} }
  for (let i = 0; i < cap; i++) {
    const slot = await hold(i, { ifAvailable: true })
    if (slot != null) return slot
  }
  // Taking over: the last slot's holder loses its lock (its request promise rejects) and stops.
  return opts.steal === true ? await hold(cap - 1, { steal: true }) : null
}

function hold (index: number, options: LockOptions): Promise<ContributionSlot | null> {
  return new Promise(resolve => {
    let release = (): void => {}
    let lost = (): void => {}
    const lostP = new Promise<void>(resolve => { lost = resolve })
    const done = new Promise<void>(resolve => { release = resolve })
    navigator.locks.request(lockName(index), options, async lock => {
      if (lock == null) { resolve(null); return }
      resolve({ index, lost: lostP, release })
      await done
    }).catch((err: Error) => {
      // Stolen by a tab taking over: the browser rejects the holder's request with AbortError.
      if (err.name === 'AbortError') lost()
      resolve(null)
    })
  })
}
