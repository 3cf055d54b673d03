// The microbatch recipe of one stage, written once and used by the in-process Pipeline, the
// swarm and the single-tab trainer (llm.c's forward → backward, split at stage boundaries):
//
//   input arrives (tokens on stage 0, activations after) → forward
//     last stage:  → loss → backward → d(input) goes back
//     other stage: → activations go on … d(output) comes back → backward → d(input) goes back
//   (stage 0 sends nothing back: its backward ends the microbatch)
//
// Only how tensors move differs, behind StageTransport: in-process copies (pipeline.ts) or the
// network (swarm/stage-flow.ts over libp2p). The optimizer step is not here: it belongs to
// whoever owns the step counter (StageTrainer in process, StepClock in the swarm).

/** A stage's compute for one microbatch, keyed by its id (the id picks its activation slot). */
export interface StageOps {
  readonly isFirst: boolean
  readonly isLast: boolean
  forward(mb: number, input: Float32Array | Uint32Array, targets?: Uint32Array): Promise<{ output: Float32Array | null, loss: number | null }>
  /** d(output) → d(input); the last stage starts from its own loss (no dOutput). */
  backward(mb: number, dOutput?: Float32Array): Promise<Float32Array | null>
}

/** How a stage hands tensors to its neighbours. */
export interface StageTransport {
  /** Forward: microbatch mb's output (B, T, C) to the next stage. */
  sendActivations(mb: number, x: Float32Array): Promise<void>
  /** Backward: d loss / d input (B, T, C) of microbatch mb to the stage before. */
  sendGradients(mb: number, dx: Float32Array): Promise<void>
}

export interface ForwardOutcome {
  /** The last stage's loss of this microbatch; null elsewhere. */
  loss: number | null
  /** True when the microbatch's backward also ran here (the last stage). */
  finished: boolean
}

/** Runs microbatch `mb`'s forward on this stage and hands the result on. */
export async function forwardMicrobatch (ops: StageOps, io: StageTransport, mb: number, input: Float32Array | Uint32Array, targets?: Uint32Array): Promise<ForwardOutcome> {
  if (ops.isLast) {
    const { loss } = await ops.forward(mb, input, targets)
    const dInput = await ops.backward(mb)
    if (dInput != null && !ops.isFirst) await io.sendGradients(mb, dInput)
    return { loss, finished: true }
  }
  const { output } = await ops.forward(mb, input)
  if (output == null) throw new TypeError(`microbatch ${mb}: a stage that is not last produced no activations`)
  await io.sendActivations(mb, output)
  return { loss: null, finished: false }
}

/** Runs microbatch `mb`'s backward from the next stage's d(output) and hands d(input) back. */
export async function backwardMicrobatch (ops: StageOps, io: StageTransport, mb: number, dOutput: Float32Array): Promise<void> {
  const dInput = await ops.backward(mb, dOutput)
  if (dInput != null && !ops.isFirst) await io.sendGradients(mb, dInput)
}
