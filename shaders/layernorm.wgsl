// LayerNorm over the last dimension (llm.c layernorm_forward/backward). Needs reduce.wgsl.
// Every storage binding is read_write: views of one flat buffer (activations, gradients) may
// be bound together, and WebGPU forbids mixing read-only and writable uses of a buffer.

struct Params {
  N: u32,              // rows (B*T)
  C: u32,              // channels
  rows_per_block: u32, // rows each partial-sum block of dweight/dbias covers
  blocks: u32,         // ceil(N / rows_per_block)
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> inp: array<f32>;      // (N, C)
@group(0) @binding(2) var<storage, read_write> weight: array<f32>;   // (C)
@group(0) @binding(3) var<storage, read_write> bias: array<f32>;     // (C)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;      // (N, C)
@group(0) @binding(5) var<storage, read_write> mean: array<f32>;     // (N)
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>;     // (N)
@group(0) @binding(7) var<storage, read_write> dout: array<f32>;     // (N, C)
@group(0) @binding(8) var<storage, read_write> dinp: array<f32>;     // (N, C)
@group(0) @binding(9) var<storage, read_write> dweight: array<f32>;  // (C)
@group(0) @binding(10) var<storage, read_write> dbias: array<f32>;   // (C)
@group(0) @binding(11) var<storage, read_write> partial: array<f32>; // (blocks, 2C): dweight | dbias
@group(0) @binding(12) var<storage, read_write> res_a: array<f32>;   // (N, C) forward_residual: inp = res_a + res_b
@group(0) @binding(13) var<storage, read_write> res_b: array<f32>;   // (N, C)

// One workgroup per row. Two passes over the row (mean, then centred variance) for accuracy.
@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  normalize_row(wid.x, lid3.x);
}

// The residual add before a LayerNorm fused in: inp = res_a + res_b (written, backward reads it),
// then the same normalization. Each thread re-reads only the elements it wrote.
@compute @workgroup_size(WG)
fn forward_residual(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let base = wid.x * p.C;
  for (var c = lid3.x; c < p.C; c += WG) { inp[base + c] = res_a[base + c] + res_b[base + c]; }
  normalize_row(wid.x, lid3.x);
}

fn normalize_row(row: u32, lid: u32) {
  let C = p.C;
  let base = row * C;
  var s = 0.0;
  for (var c = lid; c < C; c += WG) { s += inp[base + c]; }
  let m = wg_sum(lid, s) / f32(C);
  var v = 0.0;
  for (var c = lid; c < C; c += WG) {
    let d = inp[base + c] - m;
    v += d * d;
  }
  let rs = 1.0 / sqrt(wg_sum(lid, v) / f32(C) + p.eps);
  for (var c = lid; c < C; c += WG) {
    out[base + c] = (inp[base + c] - m) * rs * weight[c] + bias[c];
  }
  if (lid == 0u) {
    mean[row] = m;
    rstd[row] = rs;
  }
}

// dinp += (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) * rstd, one workgroup per row.
@compute @workgroup_size(WG)
fn backward_dinp(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let row = wid.x;
  let lid = lid3.x;
  let C = p.C;
  let base = row * C;
  let m = mean[row];
  let rs = rstd[row];
  var a = 0.0;
  var b = 0.0;
  for (var c = lid; c < C; c += WG) {
    let norm = (inp[base + c] - m) * rs;
    let dnorm = weight[c] * dout[base + c];
    a += dnorm;
    b += dnorm * norm;
  }
  let dnorm_mean = wg_sum(lid, a) / f32(C);
  let dnorm_norm_mean = wg_sum(lid, b) / f32(C);
  for (var c = lid; c < C; c += WG) {
    let norm = (inp[base + c] - m) * rs;
    let dnorm = weight[c] * dout[base + c];
    dinp[base + c] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * rs;
  }
}

// dweight/dbias without atomics, pass 1: thread = column, workgroup row y = block of rows.
@compute @workgroup_size(WG)
fn backward_params_partial(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let blk = gid.y;
  let C = p.C;
  if (c >= C) { return; }
  let r0 = blk * p.rows_per_block;
  let r1 = min(r0 + p.rows_per_block, p.N);
  var dw = 0.0;
  var db = 0.0;
  for (var r = r0; r < r1; r++) {
    let d = dout[r * C + c];
    dw += d * (inp[r * C + c] - mean[r]) * rstd[r];
    db += d;
  }
  // One block: the sums are final, and the reduce dispatch is skipped.
  if (p.blocks == 1u) {
    dweight[c] += dw;
    dbias[c] += db;
  } else {
    partial[blk * 2u * C + c] = dw;
    partial[blk * 2u * C + C + c] = db;
  }
}

// Pass 2: each column sums its partials in block order (deterministic), then accumulates.
@compute @workgroup_size(WG)
fn backward_params_reduce(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let C = p.C;
  if (c >= C) { return; }
  var dw = 0.0;
  var db = 0.0;
  for (var blk = 0u; blk < p.blocks; blk++) {
    dw += partial[blk * 2u * C + c];
    db += partial[blk * 2u * C + C + c];
  }
  dweight[c] += dw;
  dbias[c] += db;
}
