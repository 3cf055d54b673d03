// Timers for the page that a hidden tab does not throttle: browsers align a hidden page's
// main-thread timers to one wake-up a second (and fewer after minutes), which would stall a
// training loop that polls every 100 ms. A dedicated worker's timers run on time.
addEventListener('message', (e: MessageEvent<{ id: number, ms: number }>) => {
  const { id, ms } = e.data
  setTimeout(() => { postMessage(id) }, Math.max(0, Math.min(ms, 3_600_000)))
})
