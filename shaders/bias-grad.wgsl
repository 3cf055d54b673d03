// Bias gradient of a linear layer, db (N) += Σ_rows dout (M, N), deterministic without atomics:
// pass 1 sums blocks of rows per column into partials, pass 2 sums the partials in block order
// (with a single block, pass 1 accumulates straight into db).
// Storage bindings are read_write so views of one flat buffer can be bound together.

struct Params {
  M: u32,              // rows (B*T)
  N: u32,              // columns (output features)
  rows_per_block: u32,
  blocks: u32,         // ceil(M / rows_per_block)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> dout: array<f32>;    // (M, N)
@group(0) @binding(2) var<storage, read_write> partial: array<f32>; // (blocks, N)
@group(0) @binding(3) var<storage, read_write> dbias: array<f32>;   // (N)

override WG: u32 = 64u;

// Thread = column (coalesced reads along a row), grid y = block of rows.
@compute @workgroup_size(WG)
fn partial_sum(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let blk = gid.y;
  if (c >= p.N) { return; }
  let r0 = blk * p.rows_per_block;
  let r1 = min(r0 + p.rows_per_block, p.M);
  var s = 0.0;
  for (var r = r0; r < r1; r++) { s += dout[r * p.N + c]; }
  // One block: the sum is final, and the reduce dispatch is skipped.
  if (p.blocks == 1u) { dbias[c] += s; } else { partial[blk * p.N + c] = s; }
}

@compute @workgroup_size(WG)
fn reduce(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= p.N) { return; }
  var s = 0.0;
  for (var blk = 0u; blk < p.blocks; blk++) { s += partial[blk * p.N + c]; }
  dbias[c] += s;
}
