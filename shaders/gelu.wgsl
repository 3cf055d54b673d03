// GELU, tanh approximation as GPT-2 (llm.c gelu_forward/backward). Elementwise, grid-stride.
// Storage bindings are read_write so views of one flat buffer can be bound together.

struct Params { n: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> inp: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> dout: array<f32>;
@group(0) @binding(4) var<storage, read_write> dinp: array<f32>;

override WG: u32 = 256u;
const GELU_SCALE = 0.7978845608028654; // sqrt(2 / pi)

// tanh saturates long before 10; clamping avoids exp overflow in some tanh implementations.
fn tanh_safe(u: f32) -> f32 { return tanh(clamp(u, -10.0, 10.0)); }

@compute @workgroup_size(WG)
fn forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  for (var i = gid.x; i < p.n; i += nwg.x * WG) {
    let x = inp[i];
    out[i] = 0.5 * x * (1.0 + tanh_safe(GELU_SCALE * (x + 0.044715 * x * x * x)));
  }
}

fn gelu_grad(x: f32) -> f32 {
  let th = tanh_safe(GELU_SCALE * (x + 0.044715 * x * x * x));
  let sech2 = 1.0 - th * th;
  return 0.5 * (1.0 + th) + 0.5 * x * sech2 * GELU_SCALE * (1.0 + 3.0 * 0.044715 * x * x);
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
