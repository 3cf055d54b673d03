// AdamW with decoupled weight decay (llm.c adamw_kernel) over a flat parameter buffer.
// Weight decay differs per view (matrices only), yet the whole buffer is one dispatch: the CPU
// cuts every view into tiles (a few times WG elements) and each workgroup reads its
// tile (start, end, decay) from a table. Padding between views is never touched.
// Storage bindings are read_write so views of one flat buffer can be bound together.

struct Params {
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,
  grad_scale: f32,
  bc1: f32, // 1 - beta1^t, bias corrections computed in float64 on the CPU
  bc2: f32, // 1 - beta2^t
  n_tiles: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> tiles: array<vec4u>; // (start, end, decay 0/1, 0)
@group(0) @binding(6) var<storage, read_write> clip: array<f32>;    // [0]: extra gradient scale, e.g. from grad-norm

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let tile_id = wid.x + wid.y * nwg.x; // 2-D grid when there are more tiles than one dimension allows
  if (tile_id >= p.n_tiles) { return; }
  let tile = tiles[tile_id];
  let decay = select(0.0, p.weight_decay, tile.z != 0u);
  let gscale = p.grad_scale * clip[0];
  for (var i = tile.x + lid.x; i < tile.y; i += WG) {
    let g = grad[i] * gscale;
    let mi = p.beta1 * m[i] + (1.0 - p.beta1) * g;
    let vi = p.beta2 * v[i] + (1.0 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    let mhat = mi / p.bc1;
    let vhat = vi / p.bc2;
    param[i] -= p.lr * (mhat / (sqrt(vhat) + p.eps) + decay * param[i]);
  }
}
