// Fused softmax cross-entropy (llm.c crossentropy_softmax_backward). Needs reduce.wgsl.
// One workgroup per row: losses[r] = logsumexp(logits[r]) - logits[r, target], max-subtracted;
// dlogits[r] = (softmax(logits[r]) - onehot(target)) * scale.
// Storage bindings are read_write so views of one flat buffer can be bound together.

struct Params {
  BT: u32,
  V: u32,
  scale: f32, // 1/BT gives d(mean loss)/dlogits
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;  // (BT, V)
@group(0) @binding(2) var<storage, read_write> targets: array<u32>; // (BT)
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;  // (BT)
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>; // (BT, V)

// Row maximum and Σ exp(x - max); also writes the row's loss (target logit read first, so
// an in-place caller may overwrite the row afterwards). A target >= V gives a NaN loss.
fn row_loss(row: u32, lid: u32) -> vec2f {
  let V = p.V;
  let base = row * V;
  let y = targets[row];
  let x_y = logits[base + min(y, V - 1u)];
  var mx = logits[base]; // any element of the row bounds its max from below
  for (var c = lid; c < V; c += WG) { mx = max(mx, logits[base + c]); }
  let m = wg_max(lid, mx);
  var s = 0.0;
  for (var c = lid; c < V; c += WG) { s += exp(logits[base + c] - m); }
  let z = wg_sum(lid, s);
  if (lid == 0u) {
    // The NaN is built from a runtime value: a constant NaN is a WGSL shader-creation error.
    losses[row] = select(log(z) + (m - x_y), bitcast<f32>(0x7fc00000u | (y & 0u)), y >= V);
  }
  return vec2f(m, z);
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  _ = row_loss(wid.x, lid3.x);
}

@compute @workgroup_size(WG)
fn forward_backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wid.x;
  let lid = lid3.x;
  let mz = row_loss(row, lid);
  let inv_z = 1.0 / mz.y;
  let base = row * p.V;
  let y = targets[row];
  for (var c = lid; c < p.V; c += WG) {
    let prob = exp(logits[base + c] - mz.x) * inv_z;
    dlogits[base + c] = (prob - select(0.0, 1.0, c == y)) * p.scale;
  }
}

// dlogits written over logits (llm.c does this to save a (BT, V) buffer): WebGPU rejects two
// overlapping writable bindings, so this variant binds only logits.
@compute @workgroup_size(WG)
fn forward_backward_inplace(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wid.x;
  let lid = lid3.x;
  let mz = row_loss(row, lid);
  let inv_z = 1.0 / mz.y;
  let base = row * p.V;
  let y = targets[row];
  for (var c = lid; c < p.V; c += WG) {
    let prob = exp(logits[base + c] - mz.x) * inv_z;
    logits[base + c] = (prob - select(0.0, 1.0, c == y)) * p.scale;
  }
}
