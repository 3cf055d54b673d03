// A headless volunteer: the browser tab's composition root (SwarmTab) with Node parts plugged in —
// the key and checkpoint from the data dir instead of IndexedDB, Dawn in-process instead of the
// compute worker, node-datachannel WebRTC instead of the browser's. Everything between (the swarm
// runtime, the tracker client, the wire protocols) is the tab's own code.
import { mkdir } from 'node:fs/promises'
import type { PrivateKey } from '@libp2p/interface'
import { SwarmTab, type SwarmSnapshot } from '../train/swarm/swarm-tab.ts'
import { loadDataset } from '../campaign/dataset.ts'
import type { CampaignManifest } from '../campaign/manifest.ts'
import type { VolunteerArgs } from './volunteer-args.ts'
import { loadOrCreatePeerKey } from './peer-key-file.ts'
import { fetchTrackerCampaign } from './tracker-campaign.ts'
import { loadCheckpoint, saveCheckpoint, type StageCheckpoint } from './stage-checkpoint-file.ts'
import { resumePlan } from './resume-plan.ts'
import { createNodeLibp2p, type NodeLibp2p } from './node-libp2p.ts'
import { isTcpAddr, linkTransport, type TabLibp2p } from '../net/tab-node.ts'
import { createNodeCompute, type NodeCompute } from './node-compute.ts'
import { loadWalletKey, signInWithKeyFile, signInWithPastedSignature } from './wallet-sign-in.ts'
import { BadSignatureError, SetupError, TrackerUnreachableError, UsageError } from './errors.ts'
import { MIN_SAVE_INTERVAL_MS, SAVE_EVERY_MS } from './constants.ts'

export interface VolunteerEvents {
  /** A line worth keeping in a log (setup steps, checkpoints, the end). */
  log: (line: string) => void
  /** Every snapshot change (the progress display). */
  snapshot?: (s: SwarmSnapshot) => void
}

export type VolunteerEnd = { kind: 'done' | 'left' } | { kind: 'error', message: string }

export interface Volunteer {
  readonly peerId: string
  readonly manifest: CampaignManifest
  readonly tab: SwarmTab
  /** Settles when training ends: the campaign's last step, leave(), or an error. */
  readonly ended: Promise<VolunteerEnd>
  /** Saves the weights, hands leases back, closes the connections. */
  leave(): Promise<void>
}

/** Phases in which the stage's weights exist and are worth saving. */
const TRAINING = new Set(['running', 'paused'])

/**
 * Sets up and starts the volunteer. Setup failures (bad key file, tracker unreachable, bad
 * campaign, no GPU) throw a SetupError before anything has joined the swarm.
 */
export async function startVolunteer (args: VolunteerArgs, events: VolunteerEvents): Promise<Volunteer> {
  const { origin, campaignId } = args.link
  await mkdir(args.dataDir, { recursive: true, mode: 0o700 }).catch((err: Error) => {
    throw new SetupError(`cannot create the data dir ${args.dataDir}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)
  })
  const key = await loadOrCreatePeerKey(args.dataDir)
  // Read the wallet key before any network call: a typo there should not cost a join.
  const wallet = args.walletKeyFile != null ? await loadWalletKey(args.walletKeyFile) : null
  const { manifest, relayAddrs } = await fetchTrackerCampaign(origin, campaignId)
  if (args.stage != null && args.stage >= manifest.stages) throw new UsageError(`--stage ${args.stage + 1}: campaign "${manifest.name}" has ${manifest.stages} stage${manifest.stages === 1 ? '' : 's'}`)
  events.log(`campaign "${manifest.name}" (${campaignId}) on ${origin}: ${manifest.stages} stages`)

  const { previousStage, savedWeights, notes } = resumePlan(manifest, args.stage, await loadCheckpoint(args.dataDir, campaignId))
  for (const n of notes) events.log(n)

  // Signed in before the GPU and the swarm: a refused sign-in costs no join. It binds the PeerId
  // (the key's), so no connection is needed yet.
  try {
    if (wallet != null) {
      const address = await signInWithKeyFile(wallet, key.privateKey, origin)
      events.log(`signed in as ${address}: this volunteer's work is credited to it`)
    } else if (args.address != null) {
      const address = await signInWithPastedSignature(args.address, key.privateKey, origin)
      events.log(`signed in as ${address}: this volunteer's work is credited to it`)
    } else {
      events.log('no --wallet-key or --address: work is credited to this PeerId; restart with one of them to bind it to an address (its earlier work follows it)')
    }
  } catch (err) {
    if (err instanceof BadSignatureError) throw err
    throw new SetupError(`sign-in with ${wallet != null ? 'the wallet key' : '--address'} failed: ${(err as Error).message}`)
  }

  const compute = createNodeCompute()
  const probe = await compute.api.probe()
  if (probe.type !== 'ok') throw new SetupError(`no WebGPU device: ${probe.reason}`)
  events.log(`GPU: ${[probe.adapter.vendor, probe.adapter.architecture, probe.adapter.description].filter(s => s !== '' && s != null).join(' ')}`)

  let net: NodeLibp2p
  try {
    net = await createNodeLibp2p({ origin, relayAddrs, privateKey: key.privateKey, tcpListen: args.listen })
  } catch (err) {
    throw new TrackerUnreachableError(`cannot reach the tracker's relay at ${relayAddrs[0]}: ${(err as Error).message}`)
  }
  const peerId = net.node.peerId.toString()
  events.log(`PeerId ${peerId}${key.created ? ' (new identity)' : ''}, data dir ${args.dataDir}`)
  logTransports(net.node, args.listen != null, events.log)
  return run({ args, manifest, relayAddrs, privateKey: key.privateKey, net, compute, previousStage, savedWeights, events, peerId })
}

/** Says where TCP listens, then each direct connection and its transport (TCP to a Node volunteer, WebRTC otherwise). */
function logTransports (node: TabLibp2p, tcp: boolean, log: (line: string) => void): void {
  const tcpAddrs = node.getMultiaddrs().filter(isTcpAddr).map(a => a.decapsulate('/p2p').toString())
  log(tcp
    ? `listening on TCP ${tcpAddrs.join(' ')}: Node volunteers that reach it connect over TCP, browser tabs over WebRTC`
    : 'no TCP (--listen none): every direct connection is WebRTC')
  node.addEventListener('connection:open', evt => {
    const kind = linkTransport(evt.detail)
    if (kind !== 'relayed') log(`direct connection to ${evt.detail.remotePeer.toString()} over ${kind === 'tcp' ? 'TCP' : 'WebRTC'}`)
  })
}

interface RunInit {
  args: VolunteerArgs
  manifest: CampaignManifest
  relayAddrs: string[]
  privateKey: PrivateKey
  net: NodeLibp2p
  compute: NodeCompute
  previousStage: number | undefined
  savedWeights: StageCheckpoint['weights'] | undefined
  events: VolunteerEvents
  peerId: string
}

function run (r: RunInit): Volunteer {
  const { args, events } = r
  const { origin, campaignId } = args.link
  let endWith: (e: VolunteerEnd) => void = () => {}
  const ended = new Promise<VolunteerEnd>(resolve => { endWith = resolve })
  let last: SwarmSnapshot | null = null
  let savedAt = 0
  let saving = Promise.resolve()

  const save = (): Promise<void> => {
    saving = saving.then(async () => {
      const s = tab.snapshot
      if (s.stage == null || !TRAINING.has(s.phase)) return
      savedAt = Date.now()
      const weights = await tab.exportWeights()
      await saveCheckpoint(args.dataDir, { campaign: campaignId, stage: s.stage, weights })
    }).catch((err: Error) => { events.log(`could not save the checkpoint: ${err.message}`) })
    return saving
  }

  const tab = new SwarmTab({
    campaignId,
    manifest: r.manifest,
    origin,
    node: r.net.node,
    relayAddrs: r.relayAddrs,
    compute: r.compute.api,
    privateKey: r.privateKey,
    loadTokens: async onProgress => await loadDataset(r.manifest.dataset, { origin, onProgress }),
    ...(r.previousStage != null ? { previousStage: r.previousStage, ...(r.savedWeights != null ? { savedWeights: r.savedWeights } : {}) } : {}),
    agentStats: { headless: 1 },
    onUpdate: s => {
      const prev = last
      last = s
      events.snapshot?.(s)
      if (s.phase !== prev?.phase || (s.phase !== 'running' && s.message !== prev?.message)) {
        if (s.phase === 'running' && prev?.phase !== 'paused') events.log(`training stage ${s.stage! + 1}/${s.stages} from step ${s.appliedStep}`)
        else if (s.phase !== 'running') events.log(`${s.phase}: ${s.phase === 'error' ? s.error ?? s.message : s.message}`)
      }
      // The starting weights become the checkpoint at once; later ones after steps, not too often.
      const started = TRAINING.has(s.phase) && (prev == null || !TRAINING.has(prev.phase))
      const stepped = prev != null && s.appliedStep !== prev.appliedStep
      if (started || (stepped && Date.now() - savedAt > MIN_SAVE_INTERVAL_MS)) void save()
      if (s.phase === 'done') endWith({ kind: 'done' })
      if (s.phase === 'error') endWith({ kind: 'error', message: s.error ?? s.message })
    }
  })
  tab.setBudget(args.gpuBudget)
  const timer = setInterval(() => { void save() }, SAVE_EVERY_MS)

  let leaving: Promise<void> | undefined
  const leave = async (): Promise<void> => {
    leaving ??= (async () => {
      clearInterval(timer)
      await save()
      await tab.leave()
      await r.net.stop()
      r.compute.release()
      endWith({ kind: 'left' })
    })()
    await leaving
  }
  void tab.start()
  return { peerId: r.peerId, manifest: r.manifest, tab, ended, leave }
}
