// GELU, tanh approximation as GPT-2 (llm.c gelu_forward/backward). Elementwise, grid-stride.
// Storage bindings are read_write so views of one flat buffer can be bound together. The math
// (gelu, gelu_grad) is gelu-math.wgsl, prepended by src/gpu/kernels/gelu.ts.

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> inp: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> dout: array<f32>;
@group(0) @binding(4) var<storage, read_write> dinp: array<f32>;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.n; i += nwg.x * WG) {
    out[i] = gelu(inp[i]);
  }
}

// dinp = gelu'(inp) * dout, written (not accumulated).
@compute @workgroup_size(WG)
fn backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.n; i += nwg.x * WG) { dinp[i] = gelu_grad(inp[i]) * dout[i]; }
}

// Same with dinp and dout one view: WebGPU rejects two overlapping writable bindings.
@compute @workgroup_size(WG)
fn backward_inplace(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.n; i += nwg.x * WG) { dinp[i] = gelu_grad(inp[i]) * dinp[i]; }
}
