import { describe, expect, it } from 'vitest'
import { validAnnouncement } from './browser-tabs.svelte.ts'

const good = { slot: 1, peerId: '12D3KooWabc', campaign: '0123456789abcdef0123456789abcdef', stage: 0, phase: 'running', microbatches: 3, at: 1 }

describe('announcements of this browser\'s other tabs', () => {
  it('accepts an announcement, an idle one and a goodbye', () => {
    expect(validAnnouncement(good)).toBe(true)
    expect(validAnnouncement({ ...good, campaign: null, stage: null, phase: 'idle' })).toBe(true)
    expect(validAnnouncement({ slot: 2, gone: true })).toBe(true)
  })

  it('refuses malformed ones before they reach the page', () => {
    for (const bad of [
      null, 'x', 42, {},
      { ...good, slot: -1 }, { ...good, slot: 1.5 }, { ...good, slot: 1e9 },
      { ...good, peerId: 'x'.repeat(200) }, { ...good, peerId: 7 },
      { ...good, campaign: '../../etc' }, { ...good, stage: 'one' },
      { ...good, phase: 'p'.repeat(100) }, { ...good, microbatches: Infinity }, { ...good, at: 'now' }
    ]) expect(validAnnouncement(bad), JSON.stringify(bad)).toBe(false)
  })
})
