// Global gradient L2 norm over a flat buffer, in two deterministic passes (no atomics):
// a fixed number of workgroups each reduce a fixed grid-stride share, then one workgroup
// reduces their partials in a fixed tree. Needs reduce.wgsl.
// Storage bindings are read_write so views of one flat buffer can be bound together.

struct Params {
  n: u32,
  blocks: u32,     // workgroups of the first pass
  max_norm: f32,   // clip threshold; 0 disables clipping
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> grads: array<f32>;   // (n)
@group(0) @binding(2) var<storage, read_write> partial: array<f32>; // (blocks)
@group(0) @binding(3) var<storage, read_write> result: array<f32>;  // [clip scale, norm, sum of squares]

@compute @workgroup_size(WG)
fn partial_sumsq(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var s = 0.0;
  for (var i = wid.x * WG + lid; i < p.n; i += p.blocks * WG) {
    let g = grads[i];
    s += g * g;
  }
  let total = wg_sum(lid, s);
  if (lid == 0u) { partial[wid.x] = total; }
}

// clip scale = max_norm / norm when norm > max_norm > 0, else 1 (llm.c's grad_scale).
@compute @workgroup_size(WG)
fn finish(@builtin(local_invocation_id) lid3: vec3u) {
  let lid = lid3.x;
  var s = 0.0;
  for (var i = lid; i < p.blocks; i += WG) { s += partial[i]; }
  let sumsq = wg_sum(lid, s);
  if (lid == 0u) {
    let norm = sqrt(sumsq);
    result[0] = select(1.0, p.max_norm / norm, p.max_norm > 0.0 && norm > p.max_norm);
    result[1] = norm;
    result[2] = sumsq;
  }
}
