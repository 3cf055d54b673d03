// Token + position embedding (llm.c encoder_forward/backward), deterministic backward without
// atomics: dwpe sums over the batch in order; dwte uses a CPU-built inverse index (CSR) so one
// workgroup owns each distinct token and sums its positions in ascending order.
// Storage bindings are read_write so views of one flat buffer can be bound together.

struct Params {
  B: u32,
  T: u32,
  C: u32,
  V: u32,
  max_u: u32, // capacity of the index: min(V, B*T) distinct tokens
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> tokens: array<u32>; // (B, T)
@group(0) @binding(2) var<storage, read_write> wte: array<f32>;    // (V, C)
@group(0) @binding(3) var<storage, read_write> wpe: array<f32>;    // (maxT, C)
@group(0) @binding(4) var<storage, read_write> out: array<f32>;    // (B, T, C)
@group(0) @binding(5) var<storage, read_write> dout: array<f32>;   // (B, T, C)
@group(0) @binding(6) var<storage, read_write> dwte: array<f32>;   // (V, C)
@group(0) @binding(7) var<storage, read_write> dwpe: array<f32>;   // (maxT, C)
// [U, tokens[max_u], offsets[max_u + 1], positions[B*T]]; see buildTokenIndex in embedding.ts.
@group(0) @binding(8) var<storage, read_write> tok_index: array<u32>;
@group(0) @binding(9) var<storage, read_write> positions: array<u32>; // (B): forward_at's position of each row

override WG: u32 = 256u;

// out[b, t] = wte[tokens[b, t]] + wpe[t]; a token >= V gives NaN (built at runtime: a constant
// NaN is a WGSL error).
@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let C = p.C;
  for (var i = gid.x; i < p.B * p.T * C; i += nwg.x * WG) {
    let bt = i / C;
    let c = i % C;
    let tok = tokens[bt];
    let v = wte[min(tok, p.V - 1u) * C + c] + wpe[(bt % p.T) * C + c];
    out[i] = select(v, bitcast<f32>(0x7fc00000u | (tok & 0u)), tok >= p.V);
  }
}

// Decoding (T = 1): out[b] = wte[tokens[b]] + wpe[positions[b]], each row at its own position.
@compute @workgroup_size(WG)
fn forward_at(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let C = p.C;
  for (var i = gid.x; i < p.B * C; i += nwg.x * WG) {
    let b = i / C;
    let c = i % C;
    let tok = tokens[b];
    let v = wte[min(tok, p.V - 1u) * C + c] + wpe[positions[b] * C + c];
    out[i] = select(v, bitcast<f32>(0x7fc00000u | (tok & 0u)), tok >= p.V);
  }
}

// dwpe[t, c] += Σ_b dout[b, t, c], b ascending.
@compute @workgroup_size(WG)
fn backward_wpe(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let C = p.C;
  let TC = p.T * C;
  for (var i = gid.x; i < TC; i += nwg.x * WG) {
    var s = 0.0;
    for (var b = 0u; b < p.B; b++) { s += dout[b * TC + i]; }
    dwpe[i] += s;
  }
}

// Workgroup u: dwte[token u] += Σ dout over that token's positions, in ascending order.
@compute @workgroup_size(WG)
fn backward_wte(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let u = wid.x;
  if (u >= tok_index[0]) { return; }
  let C = p.C;
  let tok = tok_index[1u + u];
  let first = tok_index[1u + p.max_u + u];
  let last = tok_index[2u + p.max_u + u];
  let positions = 2u + 2u * p.max_u;
  for (var c = lid3.x; c < C; c += WG) {
    var s = 0.0;
    for (var k = first; k < last; k++) { s += dout[tok_index[positions + k] * C + c]; }
    dwte[tok * C + c] += s;
  }
}
