// This tab's place in the swarm: a heartbeat to the tracker carries its counters and brings back
// its stage's replicas and the next stage's, whether it was excluded, and the tracker's step.
// Changes are told as events; the UI text is the composition root's business. The last few
// replies' lists also say who may send this tab tensors (peer-gate.ts): a peer listed in any of
// them, so one reply taken right after a tracker restart does not refuse peers that are rejoining.
import type { HeartbeatReply, SwarmStatus, TabStats } from '../../protocol/swarm.ts'
import type { Clock } from './clock.ts'

export interface MembershipInit {
  me: string
  clock: Clock
  periodMs: number
  heartbeat: (stats: TabStats) => Promise<HeartbeatReply>
  /** This tab's stage, and the tracker's status (every joined tab by stage: who may fetch this stage's weights). */
  stage?: number
  status?: () => Promise<SwarmStatus>
  /** Counters to report now. */
  stats: () => TabStats
  /** Peers this tab must never route to (protocol violators). */
  isExcluded: (peer: string) => boolean
  /** Dials a peer ahead of need. */
  warm: (peer: string) => Promise<void>
  onChange?: () => void
  onStep?: (step: number) => void
  onExcluded?: () => void
  onDone?: () => void
  /** The tracker forgot this tab (restart, timeout): join again. */
  onForgotten?: () => Promise<void>
  /** True when `err` means the tracker forgot this tab (HTTP 409). */
  isForgotten: (err: unknown) => boolean
}

/** Heartbeat replies whose lists still admit a peer. */
export const LISTED_REPLIES = 3

/** A refresh asked for by the gate waits at least this long after the last beat (an unlisted peer cannot make the tab hammer the tracker). */
export const REFRESH_MIN_MS = 1_000

/** How long the tracker's status vouches for a member not in the heartbeat lists. */
export const MEMBERS_VALID_MS = 10_000

type Lists = Pick<HeartbeatReply, 'prev' | 'replicas' | 'next'>

export class Membership {
  replicas: string[] = []
  next: string[] = []
  /** Replicas of the previous stage, as the tracker listed them. */
  prev: string[] = []
  readonly #init: MembershipInit
  readonly #recent: Lists[] = []
  #refreshing: Promise<void> | null = null
  /** Joined tabs by stage as the tracker's status last showed them (ready or paused too; not excluded), and when. */
  #members: { at: number, byStage: Map<number, Set<string>> } | null = null
  #membersFetch: Promise<void> | null = null
  #membersAskedAt = -Infinity
  #lastBeat = -Infinity
  #timer: unknown = null
  #warming = false
  #stopped = false

  constructor (init: MembershipInit) { this.#init = init }

  start (): Promise<void> {
    const tick = (): void => {
      this.#timer = this.#init.clock.after(this.#init.periodMs, () => { void this.beat().finally(() => { if (!this.#stopped) tick() }) })
    }
    tick()
    return this.beat()
  }

  stop (): void {
    this.#stopped = true
    if (this.#timer != null) this.#init.clock.cancel(this.#timer)
  }

  /** Listed by the tracker on `role` in one of the last LISTED_REPLIES replies (replicas: or by the join reply). */
  listed (role: keyof Lists, peer: string): boolean {
    if (role === 'replicas' && this.replicas.includes(peer)) return true
    return this.#recent.some(r => r[role].includes(peer))
  }

  /**
   * A replica of this stage listed by a heartbeat, or a tab that joined it and is still fetching
   * its first weights (not routed to yet, so only the tracker's status shows it). Never this tab.
   */
  async isStageMember (peer: string): Promise<boolean> {
    if (peer === this.#init.me) return false
    if (this.listed('replicas', peer)) return true
    await this.refreshMembers()
    return this.shown(this.#init.stage ?? -1, peer)
  }

  /**
   * Shown on `stage` by the tracker's status within the last MEMBERS_VALID_MS: joined, not
   * excluded, maybe paused (heartbeat lists leave paused tabs out, whose microbatches in flight
   * still arrive) or not ready yet.
   */
  shown (stage: number, peer: string): boolean {
    const m = this.#members
    return m != null && this.#init.clock.now() - m.at < MEMBERS_VALID_MS && (m.byStage.get(stage)?.has(peer) ?? false)
  }

  /** Fetches the tracker's status unless it was asked for within REFRESH_MIN_MS; concurrent calls share one. */
  async refreshMembers (): Promise<void> {
    if (this.#membersFetch != null) { await this.#membersFetch; return }
    const status = this.#init.status
    if (status == null || this.#init.clock.now() - this.#membersAskedAt < REFRESH_MIN_MS) return
    this.#membersAskedAt = this.#init.clock.now()
    this.#membersFetch = (async () => {
      const s = await status().catch(() => null)
      if (s == null) return // a failed fetch vouches for no one
      this.#members = {
        at: this.#init.clock.now(),
        byStage: new Map(s.stages.map(st => [st.stage, new Set(st.replicas.filter(r => (r as { excluded?: number }).excluded !== 1).map(r => r.peerId))]))
      }
    })().finally(() => { this.#membersFetch = null })
    await this.#membersFetch
  }

  /** A heartbeat now unless one ran within REFRESH_MIN_MS (then that one's answer stands); concurrent calls share one. */
  async refresh (): Promise<void> {
    if (this.#refreshing != null) { await this.#refreshing; return }
    if (this.#init.clock.now() - this.#lastBeat < REFRESH_MIN_MS) return
    this.#refreshing = this.beat().finally(() => { this.#refreshing = null })
    await this.#refreshing
  }

  async beat (): Promise<void> {
    if (this.#stopped) return
    this.#lastBeat = this.#init.clock.now()
    let r: HeartbeatReply
    try {
      r = await this.#init.heartbeat(this.#init.stats())
    } catch (err) {
      if (this.#init.isForgotten(err)) await this.#init.onForgotten?.()
      return
    }
    const next = r.next.filter(p => !this.#init.isExcluded(p))
    const changed = !same(next, this.next) || !same(r.replicas, this.replicas)
    this.#recent.unshift({ prev: r.prev, replicas: r.replicas, next: r.next })
    this.#recent.length = Math.min(this.#recent.length, LISTED_REPLIES)
    this.prev = r.prev
    this.replicas = r.replicas
    this.next = next
    if (changed) this.#warm()
    if (r.excluded) this.#init.onExcluded?.()
    this.#init.onStep?.(r.step)
    if (r.done) this.#init.onDone?.()
    if (changed) this.#init.onChange?.()
  }

  /** Next-stage replicas and stage peers, dialled one at a time, ahead of need. */
  #warm (): void {
    if (this.#warming) return
    const peers = [...new Set([...this.next, ...this.replicas])].filter(p => p !== this.#init.me)
    this.#warming = true
    void (async () => {
      for (const p of peers) {
        if (this.#stopped) break
        await this.#init.warm(p).catch(() => {})
      }
    })().finally(() => { this.#warming = false })
  }
}

function same (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}
