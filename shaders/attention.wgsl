// Causal multi-head attention, flash style (FlashAttention-2 schedule), forward and backward.
// qkv (B, T, 3C) exactly as c_attn writes it (q | k | v, head h in columns h*HS..(h+1)*HS of each);
// out (B, T, C); lse (B, NH, T). Tensors are read as vec4 (HS and C are multiples of 4).
// Every storage binding is read_write: views of one flat buffer (activations, gradients) may be
// bound together, and WebGPU forbids mixing read-only and writable uses of a buffer.
//
// Thread layout of a block kernel: TPR threads per row of the block; lane j of a row computes the
// scores of columns j, j+TPR, … and owns the output vec4s j, j+TPR, … of that row (NV of them).

struct Params {
  B: u32,
  T: u32,
  NH: u32,
  scale: f32, // 1/sqrt(HS), rounded once on the CPU
}

override HS: u32 = 64;   // head size
override BR: u32 = 16;   // query rows per block
override BC: u32 = 16;   // keys per block
override TPR: u32 = 4;   // threads per row
override WG_D: u32 = 64; // threads of the D = rowsum(dout ∘ out) pass
override HS4: u32 = HS / 4u;
override NV: u32 = HS4 / TPR; // output vec4s per thread, at most MAXV
// Row strides of the workgroup tiles, padded by one element so that the rows neighbouring threads
// read at once fall in different shared-memory banks (4-way conflicts otherwise on NVIDIA).
override RS: u32 = HS4 + 1u;  // Q, dout, K, V tiles, in vec4s
override BCP: u32 = BC + 1u;  // score tiles indexed [query row][key] (forward, dQ)
override BRP: u32 = BR + 1u;  // score tiles indexed [key][query row] (dK/dV)

const MAXV = 8u;
const NEG = -3.0e38; // "minus infinity" that keeps exp() and max() free of NaN

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> qkv: array<vec4f>;  // (B, T, 3C)
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;  // (B, T, C)
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;    // (B, NH, T)
@group(0) @binding(4) var<storage, read_write> dout: array<vec4f>; // (B, T, C)
@group(0) @binding(5) var<storage, read_write> dqkv: array<vec4f>; // (B, T, 3C), written
@group(0) @binding(6) var<storage, read_write> dsum: array<f32>;   // (B, NH, T): D = rowsum(dout ∘ out)

var<workgroup> qTile: array<vec4f, BR * RS>;  // pre-scaled by 1/sqrt(HS)
var<workgroup> oTile: array<vec4f, BR * RS>;  // dout rows (backward)
var<workgroup> kTile: array<vec4f, BC * RS>;
var<workgroup> vTile: array<vec4f, BC * RS>;
var<workgroup> sTile: array<f32, (BR + 1u) * (BC + 1u)>;     // scores (forward), dS (dQ) or P (dK/dV)
var<workgroup> dsTile: array<f32, (BR + 1u) * (BC + 1u)>;    // dS (dK/dV)
var<workgroup> pTile: array<f32, (BR + 1u) * (BC + 1u)>;     // P (forward)
var<workgroup> lseTile: array<f32, BR>;
var<workgroup> dTile: array<f32, BR>;

// vec4 index of row t's head-h slice in qkv; add C4 for k, 2*C4 for v.
fn qkvRow (b: u32, t: u32, h: u32) -> u32 {
  return ((b * p.T + t) * 3u * p.NH + h) * HS4;
}

// vec4 index of row t's head-h slice in out / dout.
fn outRow (b: u32, t: u32, h: u32) -> u32 {
  return ((b * p.T + t) * p.NH + h) * HS4;
}

// Σ a[ai + i]·b[bi + i] over one head row, 4 vec4s per step (HS4 is a multiple of 4: fewer loop
// iterations, which matter on SwiftShader's per-lane loops).
fn dotQK (ai: u32, bi: u32) -> f32 {
  var s = 0.0;
  for (var i = 0u; i < HS4; i += 4u) {
    s += dot(qTile[ai + i], kTile[bi + i]) + dot(qTile[ai + i + 1u], kTile[bi + i + 1u]) +
      dot(qTile[ai + i + 2u], kTile[bi + i + 2u]) + dot(qTile[ai + i + 3u], kTile[bi + i + 3u]);
  }
  return s;
}

fn dotOV (ai: u32, bi: u32) -> f32 {
  var s = 0.0;
  for (var i = 0u; i < HS4; i += 4u) {
    s += dot(oTile[ai + i], vTile[bi + i]) + dot(oTile[ai + i + 1u], vTile[bi + i + 1u]) +
      dot(oTile[ai + i + 2u], vTile[bi + i + 2u]) + dot(oTile[ai + i + 3u], vTile[bi + i + 3u]);
  }
  return s;
}

// Rows [t0, t0 + BR) of head h: q, scaled, into qTile. Rows past T read as zero.
fn loadQ (b: u32, h: u32, t0: u32, lid: u32, threads: u32) {
  for (var e = lid; e < BR * HS4; e += threads) {
    let t = t0 + e / HS4;
    var q = vec4f(0.0);
    if (t < p.T) { q = qkv[qkvRow(b, t, h) + e % HS4] * p.scale; }
    qTile[e / HS4 * RS + e % HS4] = q;
  }
}

// Rows [t0, t0 + BR) of head h of dout into oTile. Rows past T read as zero.
fn loadDout (b: u32, h: u32, t0: u32, lid: u32, threads: u32) {
  for (var e = lid; e < BR * HS4; e += threads) {
    let t = t0 + e / HS4;
    var o = vec4f(0.0);
    if (t < p.T) { o = dout[outRow(b, t, h) + e % HS4]; }
    oTile[e / HS4 * RS + e % HS4] = o;
  }
}

// Rows [t0, t0 + BC) of head h: k into kTile and v into vTile. Rows past T read as zero.
fn loadKV (b: u32, h: u32, t0: u32, lid: u32, threads: u32) {
  let C4 = p.NH * HS4;
  for (var e = lid; e < BC * HS4; e += threads) {
    let t = t0 + e / HS4;
    var k = vec4f(0.0);
    var v = vec4f(0.0);
    if (t < p.T) {
      let i = qkvRow(b, t, h) + e % HS4;
      k = qkv[i + C4];
      v = qkv[i + 2u * C4];
    }
    kTile[e / HS4 * RS + e % HS4] = k;
    vTile[e / HS4 * RS + e % HS4] = v;
  }
}

// ---- forward: one workgroup per (query block, h, b); online softmax over key blocks
@compute @workgroup_size(BR * TPR)
fn forward (@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let T = p.T;
  let h = wg.y;
  let b = wg.z;
  let r = lid / TPR;
  let j = lid % TPR;
  let q0 = wg.x * BR;
  let qi = q0 + r;
  loadQ(b, h, q0, lid, BR * TPR);
  var acc: array<vec4f, MAXV>;
  var m = NEG;
  var l = 0.0;
  // causal: keys up to the block's last valid query
  let nkb = (min(T, q0 + BR) + BC - 1u) / BC;
  for (var kb = 0u; kb < nkb; kb++) {
    let k0 = kb * BC;
    workgroupBarrier(); // Q is loaded; the previous K/V tiles are consumed
    loadKV(b, h, k0, lid, BR * TPR);
    workgroupBarrier();
    for (var c = j; c < BC; c += TPR) {
      sTile[r * BCP + c] = select(NEG, dotQK(r * RS, c * RS), k0 + c <= qi);
    }
    workgroupBarrier();
    // every lane of the row finds the same max; each lane exponentiates its own columns
    var mNew = m;
    for (var c = 0u; c < BC; c++) { mNew = max(mNew, sTile[r * BCP + c]); }
    for (var c = j; c < BC; c += TPR) { pTile[r * BCP + c] = exp(sTile[r * BCP + c] - mNew); }
    let alpha = exp(m - mNew);
    m = mNew;
    workgroupBarrier();
    // masked columns hold exp(NEG - m) = 0: no causal test in the inner loops
    var rowSum = 0.0;
    for (var c = 0u; c < BC; c++) { rowSum += pTile[r * BCP + c]; }
    l = l * alpha + rowSum;
    for (var v = 0u; v < NV; v++) {
      var a = acc[v] * alpha;
      for (var c = 0u; c < BC; c++) { a += pTile[r * BCP + c] * vTile[c * RS + j + v * TPR]; }
      acc[v] = a;
    }
  }
  if (qi < T) {
    let o = outRow(b, qi, h);
    let inv = 1.0 / l;
    for (var v = 0u; v < NV; v++) { out[o + j + v * TPR] = acc[v] * inv; }
    if (j == 0u) { lse[(b * p.NH + h) * T + qi] = m + log(l); }
  }
}

// ---- backward 1/3: D = rowsum(dout ∘ out) per (b, h, t), laid out like lse
@compute @workgroup_size(WG_D)
fn backward_d (@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = gid.x + gid.y * nwg.x * WG_D;
  if (idx >= p.B * p.NH * p.T) { return; }
  let t = idx % p.T;
  let h = (idx / p.T) % p.NH;
  let b = idx / (p.T * p.NH);
  let o = outRow(b, t, h);
  var s = 0.0;
  for (var i = 0u; i < HS4; i++) { s += dot(dout[o + i], out[o + i]); }
  dsum[idx] = s;
}

// ---- backward 2/3 and 3/3 (dQ; dK and dV) are generated per head size and block config with
// named register accumulators: src/gpu/kernels/attention-backward-main.ts.
